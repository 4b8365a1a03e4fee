"""Docker-less local stack: template.yaml's tables and queues on moto, and the functions in-process."""
