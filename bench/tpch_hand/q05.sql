SELECT n_name, sum(l_extendedprice * (1 - l_discount)) AS revenue
FROM tpch.customer
JOIN tpch.orders ON c_custkey = o_custkey
JOIN tpch.lineitem ON l_orderkey = o_orderkey
JOIN tpch.supplier ON l_suppkey = s_suppkey AND c_nationkey = s_nationkey
JOIN tpch.nation ON s_nationkey = n_nationkey
JOIN tpch.region ON n_regionkey = r_regionkey
WHERE r_name = 'ASIA' AND o_orderdate >= toDate('1994-01-01') AND o_orderdate < toDate('1995-01-01')
GROUP BY n_name
ORDER BY revenue DESC
