"""The console's screens: main, plan run, prompts, troubleshooting, orders, pickers."""
