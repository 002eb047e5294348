"""Silences: maintenance windows declared in the catalog, ad-hoc silences set from the command line.

windows.py   a window's timing, in the form CloudWatch's alarm mute rules take, and when it is open
adhoc.py     an ad-hoc silence as the notifier's state table holds it (`python -m infra silence`)
held.py      what a silence held back, and the e-mail footer that tells the next page about it
active.py    active_silence: whether a silence covers an alarm at a moment (pure)
"""
