"""`make soak`: seeded random fault schedules over the in-process stack, with the contract's invariants checked
after every scenario (issue 22; docs/soak.md).

- world.py: one moto stack per worker process, its clock (freezegun) and what it observes (provider receptions,
  DynamoDB writes against DynamoDB's limits);
- faults.py: faults on every external call, through botocore's hooks on the product's own clients;
- scenarios.py: a scenario drawn from (seed, index): requests, faults, SQS redeliveries, operator actions;
- play.py: a scenario played against the world, then the queues drained;
- invariants.py: invariants 1-5 of the issue, checked once the queues are drained;
- runner.py: scenarios spread over worker processes, shrinking and the summary line.
"""
