"""Files and events coming in: reading + report; candidates, consents, events, applications."""
