"""Pattern presets for kind `log_pattern`: name → the patterns it adds (plain data, validated by LogPattern).

sqlserver: the SQL Server error log, as RDS publishes it to /aws/rds/instance/<id>/error. Every
error is logged as two lines,

    2024-05-14 10:22:31.45 Logon       Error: 18456, Severity: 14, State: 8.
    2024-05-14 10:22:31.45 Logon       Login failed for user 'app'. Reason: Password did not match ...

so each pattern matches the `Error: <number>,` line only and one event counts once. The phrases end
in the comma SQL Server writes after the number, so `Severity: 17,` never finds `Severity: 170` and
`Error: 823,` never finds `Error: 8230`. An 823 or 824 (severity 24) also counts for
severity-17plus, on purpose: that pattern is the catch-all, the specific one carries the advice.

Severities: critical where data is at risk (823, 824, any severity 17-25); warning where the
engine or the application recovers by itself and a human should look soon (825 is a read that
succeeded on retry; a deadlock victim is retried by the application; failed logins hurt one
client or are an attack to investigate, not an outage of the database).
"""

from __future__ import annotations

from typing import Any, Literal

PresetName = Literal["sqlserver"]

# Severities 17-25 are "insufficient resources" (17) up to fatal and hardware errors (20-25);
# CloudWatch term patterns have no numeric comparison, so the preset lists them.
SEVERITY_17_PLUS = " ".join(f'?"Severity: {n},"' for n in range(17, 26))

SQLSERVER: list[dict[str, Any]] = [
    {
        "name": "severity-17plus",
        "pattern": SEVERITY_17_PLUS,
        "severity": "critical",
        "explain": "SQL Server logged an error of severity 17-25 (resources exhausted, fatal or hardware): "
        "look up its error number in the log line.",
    },
    {
        "name": "io-error-823",
        "pattern": '"Error: 823,"',
        "severity": "critical",
        "explain": "823: the OS failed a read or write of a data file (storage fault): check the volume, "
        "run DBCC CHECKDB.",
    },
    {
        "name": "checksum-824",
        "pattern": '"Error: 824,"',
        "severity": "critical",
        "explain": "824: a page was read back wrong (bad checksum or page id): data corruption; run DBCC CHECKDB, "
        "see msdb.dbo.suspect_pages.",
    },
    {
        "name": "read-retry-825",
        "pattern": '"Error: 825,"',
        "severity": "warning",
        "explain": "825: a read succeeded only after retries: storage is failing before 823/824 do; "
        "check the volume, run DBCC CHECKDB.",
    },
    {
        "name": "deadlock",
        "pattern": '?"Error: 1205," ?"deadlock-list"',
        "severity": "warning",
        "threshold": 3,
        "explain": "Deadlocks (1205): transactions were killed as deadlock victims; read the deadlock graph "
        "in the error log.",
    },
    {
        "name": "login-failures",
        "pattern": '"Error: 18456,"',
        "severity": "warning",
        "threshold": 10,
        "explain": "A burst of failed logins (18456): the State says why (8 wrong password, 5 unknown login); "
        "rotated secret or attack.",
    },
]

PRESETS: dict[str, list[dict[str, Any]]] = {"sqlserver": SQLSERVER}
