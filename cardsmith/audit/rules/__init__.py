"""The rule families of the auditor: one module per family (``contradictions``, ``dynamics``,
``completeness``, ``metadata``, ``reproduction``, ``suppression``), each rule a function declared with
``@rule`` (:mod:`cardsmith.audit.registry`).

A new rule goes in the family module it belongs to, with ``fixtures/rules/<name>/{pass,fail}.md``,
and is listed in the ONE explicit tuple the engine runs, :data:`cardsmith.audit.engine.RULES`;
``cardsmith rules`` and the README's rule table are generated from that tuple.
"""
