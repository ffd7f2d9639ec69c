"""The black-box service boundary: uploads, user registration and fold-in, score/rank oracles, budgets."""
