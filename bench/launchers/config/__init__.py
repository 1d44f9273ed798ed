"""Datastore configuration shared by every launcher that starts a datastore (native processes
and Docker containers): server settings per durability preset, generated config files, JVM
flags.  Pure functions of a ``TargetSpec``; nothing here starts a process or talks to an
engine, so both launchers configure a datastore identically and unit tests need no datastore.
"""
