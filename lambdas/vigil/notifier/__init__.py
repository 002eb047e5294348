"""Notifier: turns CloudWatch alarm state changes into email, SMS and fallback notifications.

events.py reads both delivery shapes (SNS alarm action, EventBridge state change) into one
AlarmEvent; render.py turns it into text without touching AWS; handler.py publishes.
"""
