"""pytest plugin (entry point ``pytest11``): fixtures that hand tests a virtual MSpa box."""
