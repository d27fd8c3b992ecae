"""The program's fixed vocabularies: roles, stages, domains and the other closed lists.

Plain tuples with no imports, so that what only needs a list of names (a command line's
choices, a viewer's role) does not load SQLAlchemy and the models (isv.models re-exports them
and checks every column against them).
"""

ROLES = ("vp", "sales_manager", "partnership_manager", "admin")
DOMAINS = ("FinOps", "Security", "Observability", "DevOps", "Data/Backup")
HEALTH = ("excellent", "healthy", "needs_attention", "at_risk")
STRUCTURE_TYPES = ("referral", "msp", "reseller")
OPEN_STAGES = ("lead", "demo", "poc", "proposal")
CLOSED_STAGES = ("closed_won", "closed_lost")
STAGES = OPEN_STAGES + CLOSED_STAGES
PRIORITIES = ("low", "medium", "high", "urgent")
TASK_STATUSES = ("pending", "in_progress", "completed", "cancelled", "rolled_over")
GOAL_TYPES = ("revenue", "opportunities", "partnerships")
ALERT_TYPES = ("opportunity_due", "relationship_maintenance", "goal_milestone", "task_overdue",
               "deal_registration")
ALERT_ENTITIES = ("opportunity", "partner", "task", "goal", "registration")
ACTIVITY_TYPES = ("call", "meeting", "email", "qbr", "event", "other")
STATUS_STATES = ("draft", "submitted")
CRM_TOOLS = ("salesforce", "hubspot", "pipedrive")  # whose exports the importer maps
REGISTRATION_STATUSES = ("pending", "approved", "rejected", "expired")
