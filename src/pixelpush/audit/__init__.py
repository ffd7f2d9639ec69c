"""``pixelpush audit``: a standard battery of attacks against a user's recommender and catalog, as a
campaign, with ``audit.json`` and an ``audit.html`` written for someone who has not read the paper."""

from pixelpush.audit.config import AuditConfig, AuditSettings, load_audit_config

__all__ = ["AuditConfig", "AuditSettings", "load_audit_config"]
