"""Push heartbeats: jobs ping vigil (start, success, fail with exit code); a checker judges them on schedule.

cron: cron expressions and their due times in a time zone; state: what a heartbeat's pings mean at a
given time; store: the pings in DynamoDB; endpoint: the ping Lambda behind a function URL.
"""
