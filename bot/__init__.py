"""Transports and the process: aiogram and PTB adapters, console, webhook/polling,
operations listener, configuration and the command line."""
