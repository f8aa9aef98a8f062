"""Terminal chat over any Generator.

persona.py: who the assistant is. session.py: the conversation (window.py: what the model
sees; reply.py: a streamed reply; settings.py: /set; transcript.py: the chat on disk).
terminal.py: the front end (prompt.py: reading messages).
"""
