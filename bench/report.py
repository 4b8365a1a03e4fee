"""The printed table, rendered from the same dict that goes to bench/results.json."""

from __future__ import annotations

from typing import Any


def _row(cells: list[Any], widths: list[int]) -> str:
    return "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def _calls_section(calls: list[dict[str, Any]]) -> list[str]:
    widths = [14, 36, 6, 5, 5, 8, 7, 22, 7]
    lines = [
        "1. AWS API calls per request: botocore before-call hooks on the product's cached clients, moto in-process",
        _row(["api", "scenario", "status", "total", "cache", "request", "target", "target counts", "verdict"], widths),
    ]
    for scenario in calls:
        target = "-" if scenario["target"] is None else f"<= {scenario['target']}"
        lines.append(
            _row(
                [
                    scenario["api"],
                    scenario["scenario"],
                    scenario["status"],
                    scenario["calls_total"],
                    scenario["cache_fill_calls"],
                    scenario["request_calls"],
                    target,
                    scenario["target_note"],
                    scenario["verdict"],
                ],
                widths,
            )
        )
        operations = ", ".join(f"{name} x{count}" for name, count in scenario["by_operation"].items())
        lines.append(f"{'':16}{operations or 'no AWS call'}  ({scenario['wall_ms']:.0f} ms in-process)")
        if scenario["unhooked_clients"]:
            lines.append(f"{'':16}WARNING: {scenario['unhooked_clients']} product client(s) were not counted")
    lines += [
        "   cache = reads that fill the per-container caches of API keys and definitions (60 s); a cold container",
        "   pays them once, so targets count `request` = total - cache. A keyed request's manifest (what the status",
        "   route shows `queued`) rides in its completion: TransactWriteItems[DeliveryLogTable,IdempotencyTable];",
        "   a bulk's item manifests go 100 to an item, so 1000 recipients are 10 Puts in that transaction. Unkeyed",
        "   and `test` requests have no completion: they write the manifest (PutItem) before enqueueing.",
    ]
    return lines


def _cold_start_section(cold: dict[str, Any]) -> list[str]:
    widths = [22, 9, 9, 13, 7, 7]
    lines = [
        f"2. Cold start: import time in fresh processes (median of {cold['runs']}), as Lambda imports the handler",
        "   (CodeUri then layers on sys.path, the template's environment, Tracing Active so X-Ray loads)",
        _row(["module", "median ms", "min ms", "ratio to boto3", "target", "verdict"], widths),
    ]
    for timing in cold["imports"]:
        ratio = "1.00 (base)" if timing["ratio_to_boto3"] is None else f"{timing['ratio_to_boto3']:.2f}"
        target = "-" if timing["ratio_to_boto3"] is None else f"<= {timing['target_ratio']}"
        lines.append(
            _row(
                [
                    timing["name"],
                    f"{timing['median_seconds'] * 1000:.0f}",
                    f"{min(timing['runs_seconds']) * 1000:.0f}",
                    ratio,
                    target,
                    timing["verdict"],
                ],
                widths,
            )
        )
        if timing["top_contributors_ms"]:
            top = ", ".join(f"{c['package']} {c['self_ms']:.0f}" for c in timing["top_contributors_ms"])
            lines.append(f"{'':24}beyond boto3, self ms per package (one -X importtime run): {top}")
    return lines


def _latency_section(warm: dict[str, Any]) -> list[str]:
    widths = [22, 7, 10, 10]
    lines = [
        "3. Warm in-process latency, Event API against moto in-process (one warm container)",
        _row(["request", "n", "median ms", "p99 ms"], widths),
    ]
    for name, label in (("new_key", "new key"), ("replay", "replay (same key)")):
        summary = warm[name]
        lines.append(_row([label, summary["count"], f"{summary['median_ms']:.2f}", f"{summary['p99_ms']:.2f}"], widths))
    lines.append(f"   new key / replay (medians): {warm['ratio_new_to_replay']}x")
    breakdown = warm.get("new_key_breakdown_median_ms") or {}
    if breakdown:
        parts = ", ".join(f"{name} {ms:.2f}" for name, ms in breakdown.items())
        lines.append(f"   new key, median ms per request: {parts}")
        lines.append(
            "   (AWS calls against moto in-process: moto's TransactWriteItems is far slower than its single writes)"
        )
    return lines


def _memory_section(memory: list[dict[str, Any]]) -> list[str]:
    widths = [22, 9, 10, 10, 9, 9, 7]
    lines = [
        "5. Peak memory: each function in a fresh process with moto, serving its requests (Bulk: a 1000-recipient",
        "   bulk, its replay and 20 bulks of 1); peak RSS counts moto too, `added` = peak - RSS before the import",
        _row(["function", "requests", "stack MB", "peak MB", "added MB", "Memory", "verdict"], widths),
    ]
    for use in memory:
        lines.append(
            _row(
                [
                    use["function"],
                    use["requests"],
                    f"{use['stack_rss_mb']:.0f}",
                    f"{use['peak_rss_mb']:.0f}",
                    f"{use['function_mb']:.0f}",
                    use["memory_size_mb"],
                    use["verdict"],
                ],
                widths,
            )
        )
    lines.append("   verdict OK: MemorySize >= 1.5 x the whole process's peak (an upper bound of the function's need)")
    return lines


def _local_section(load: dict[str, Any]) -> list[str]:
    widths = [12, 8, 9, 8, 10, 10, 24]
    lines = [
        f"4. Local stack (`python -m local`, loopback HTTP, SQS event sources {load['sqs_event_sources']}:"
        " senders would compete for the CPU)",
        _row(["phase", "clients", "requests", "req/s", "p50 ms", "p99 ms", "statuses"], widths),
    ]
    for name in ("new_keys", "replays"):
        phase = load[name]
        statuses = ", ".join(f"{code}: {n}" for code, n in phase["statuses"].items())
        lines.append(
            _row(
                [
                    phase["name"],
                    phase["clients"],
                    phase["requests"],
                    f"{phase['requests_per_second']:.1f}",
                    f"{phase['latency']['median_ms']:.1f}",
                    f"{phase['latency']['p99_ms']:.1f}",
                    statuses,
                ],
                widths,
            )
        )
    for bulk in load["bulk_calls"]:
        verdict = "OK" if bulk["accepted_all"] else "FAILED"
        lines.append(
            f"   bulk of {bulk['recipients']} recipients: {bulk['seconds'] * 1000:.0f} ms wall, "
            f"status {bulk['status']}, {bulk['items']} items ({verdict})"
        )
    if not all(bulk["accepted_all"] for bulk in load["bulk_calls"]):
        lines += [
            "   A bulk that answers 500 after about 28 s ran into BulkApiFunction's Timeout (28 s). In the function",
            f"   logs, {load['moto_read_timeouts_in_function_logs']} AWS call(s) to moto hit the client's 5 s read"
            " timeout. moto 5.2.5's SendMessage builds the",
            "   queue's attributes for each message sent, and so counts every message on the queue: a 1000-message",
            "   bulk is quadratic in the emulator (not in SQS), and it takes longer the busier the machine is.",
        ]
    lines.append("   (a negative status in replays would be an answer without Idempotency-Replayed: true)")
    return lines


def render_table(results: dict[str, Any]) -> str:
    machine = results["machine"]
    header = [
        f"bench {results['measured_at']}: {machine['nproc']} CPUs, Python {machine['python']}, {machine['platform']}",
        f"NOTE: {machine['note']}. Whole run: {results['bench_seconds']} s.",
    ]
    sections = [
        header,
        _calls_section(results["aws_calls"]),
        _cold_start_section(results["cold_start"]),
        _latency_section(results["warm_latency_event_api"]),
        _local_section(results["local_stack"]),
        _memory_section(results.get("memory", [])),
    ]
    if "against_minimal_design" in results:
        sections.append(
            _versus_section(
                {**results["against_minimal_design"], **{"cost_per_million_usd": results["cost_per_million_usd"]}}
            )
        )
    return "\n\n".join("\n".join(section) for section in sections)


def _versus_section(versus: dict[str, Any]) -> list[str]:
    latency = versus["latency_event_api"]
    widths = [26, 13, 13, 8, 9, 7]
    lines = [
        "6. Against the minimal hand-rolled design (bench/baseline.py: Powertools idempotent_function on DynamoDB,",
        "   local cache on, one SQS SendMessage), same process, same moto, requests alternating one by one",
        _row(["Event API, warm", "product ms", "minimal ms", "ratio", "target", "verdict"], widths),
    ]
    for name, label in (("new_key", "new key"), ("replay", "replay")):
        for stat, figure in (("p50", "median_ms"), ("p99", "p99_ms")):
            ratio_name = f"{name}_{stat}"
            lines.append(
                _row(
                    [
                        f"{label} {stat}",
                        f"{latency['product'][name][figure]:.3f}",
                        f"{latency['minimal'][name][figure]:.3f}",
                        f"{latency['ratios'][ratio_name]:.2f}",
                        f"<= {latency['targets'][ratio_name]}",
                        latency["verdicts"][ratio_name],
                    ],
                    widths,
                )
            )
    for side in ("product", "minimal"):
        parts = ", ".join(f"{op} {ms:.2f}" for op, ms in latency["new_key_calls_median_ms"][side].items())
        lines.append(f"   new key, {side}, median ms per call: {parts}")
    for name in ("new_key", "replay"):
        steps = latency["product_steps_median_ms"][name]
        lines.append(f"   product {name.replace('_', ' ')}, ms per step (profiler shares x this run's median):")
        lines += [f"      {ms:8.3f}  {step}" for step, ms in sorted(steps.items(), key=lambda kv: -kv[1])]
    sender = versus["sender_throughput"]
    rate = sender["messages_per_second"]
    lines += [
        "",
        "7. Sender throughput: batches of 10 to SES in moto, alternating with a minimal SQS -> SES handler that keeps",
        "   the product's at-most-once guarantee (Powertools idempotency on msg_id) and one without it (bare)",
        f"   messages/s: product {rate['product']}, minimal {rate['minimal']}, bare {rate['bare']}; "
        f"product / minimal {sender['ratio_to_minimal']:.2f} (target >= {sender['target']}) {sender['verdict']};"
        f" product / bare {sender['ratio_to_bare']:.2f}",
    ]
    for side in ("product", "minimal", "bare"):
        parts = ", ".join(f"{op} {ms:.2f}" for op, ms in sender["per_message_calls_median_ms"][side].items())
        lines.append(f"   {side}, median ms per message: {parts}")
    cost = versus["cost_per_million_usd"]
    lines += [
        "",
        f"8. Cost per million keyed Events with one email (USD, {cost['prices_as_of']} us-east-1 list prices,"
        " bench/prices.py), from this run's units and durations",
        f"   total {cost['total']:.2f} (target <= {cost['target']:.2f}) {cost['verdict']};"
        f" the minimal design {cost['minimal_design_total']:.2f}; SES itself"
        f" {cost['not_in_total']['ses_per_million_emails']:.2f} more",
    ]
    for name, usd in cost["breakdown"].items():
        lines.append(f"      {usd:8.3f}  {name}   (minimal design {cost['minimal_design_breakdown'][name]:.3f})")
    measured = cost["measured"]
    api, send = measured["keyed_event_api"], measured["sender_per_message"]
    lines.append(
        f"   per request: API writes {api['dynamodb_write_units']} WCU, reads {api['dynamodb_read_units']} RCU,"
        f" SQS {api['sqs_requests']}; sender per message writes {send['dynamodb_write_units']},"
        f" reads {send['dynamodb_read_units']}; log bytes {api['log_bytes']} (API)"
        f" + {measured['sender_log_bytes_per_message']:.0f} (sender)"
    )
    bulk = cost["bulk_1000"]
    lines.append(
        f"   a 1000-recipient bulk: {bulk['total']:.2f} per million bulks ({bulk['per_recipient']:.3f} per million"
        f" recipients): " + ", ".join(f"{name} {usd:.2f}" for name, usd in bulk["breakdown"].items())
    )
    return lines
