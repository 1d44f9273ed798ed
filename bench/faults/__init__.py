"""Faults injected inside the load: kill, restart, pause and partition one node of a target.

``spec``       parse and validate ``--fault`` terms and profile ``[[faults]]`` (pure)
``nodes``      node names per target, symbolic names (``cassandra-any``), resolution
``partition``  the native launcher's partition: iptables on loopback + one cgroup per node
``injector``   runs the schedule from a greenlet next to the load; heals everything on stop
``views``      the cluster's own view while a fault lasts (Redis failover, driver hosts down)
``analysis``   availability, error burst and recovery time per fault, from timeseries rows (pure)
"""
