"""The platform's namespace: Pod Security Admission and default-deny networking."""
