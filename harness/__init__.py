"""Test and tool infrastructure: the servers the fault, cluster, web and benchmark runs start
(PostgreSQL, Redis, nginx, our app), the processes behind them, free ports and client load.

Never imported by the product (books/, core/, bookstore/, deploy/).
"""
