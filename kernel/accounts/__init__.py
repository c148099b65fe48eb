"""Identity: who has an account, and the operations every part of the shop shares.

``models`` (User, Address), ``passwords`` (bcrypt over a pre-hash), ``services``
(create and find users, set a password or a role, password-reset tokens, links for
emails). Who is logged in and what they may do is ``mercato.security``. The pages
(register, log in, passwords, profile, addresses) are the ``accounts`` plugin.
"""
