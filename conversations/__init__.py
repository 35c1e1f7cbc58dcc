"""Channel-neutral conversations: the engine and the state machines.

Nothing here imports a messenger framework (a test proves it), so the same
flows run under aiogram, python-telegram-bot, the console and fast tests.
"""
