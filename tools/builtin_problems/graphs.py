"""Greedy, graph and heap problems: jumps, grid BFS, components, shortest paths, rooms and medians."""

from __future__ import annotations

from ._spec import Example, Spec, rng

# --- fewest-jumps --------------------------------------------------------------------------------


def _jumps_brute(nums):
    n = len(nums)
    dist = [None] * n
    dist[0] = 0
    for i in range(n):
        if dist[i] is None:
            continue
        for j in range(i + 1, min(n - 1, i + nums[i]) + 1):
            if dist[j] is None or dist[i] + 1 < dist[j]:
                dist[j] = dist[i] + 1
    return -1 if dist[-1] is None else dist[-1]


_r = rng("fewest-jumps")
FEWEST_JUMPS = Spec(
    task_id="fewest-jumps",
    question_id=90016,
    difficulty="Medium",
    tags=["Array", "Greedy"],
    date="2024-07-29",
    statement=(
        "You start at index 0 of an array nums of non-negative integers. From index i you may jump to "
        "any index i + 1, i + 2, ..., i + nums[i] that lies inside the array.\n\n"
        "Return the minimum number of jumps needed to reach the last index, or -1 if the last index "
        "cannot be reached."
    ),
    constraints=[
        "1 <= nums.length <= 10^5",
        "0 <= nums[i] <= 10^5",
    ],
    signature="def fewestJumps(self, nums: List[int]) -> int:",
    solution="""class Solution:
    def fewestJumps(self, nums: List[int]) -> int:
        last = len(nums) - 1
        jumps = 0
        end = 0  # furthest index reachable with `jumps` jumps
        furthest = 0  # furthest index reachable with one more jump
        for i in range(last):
            furthest = max(furthest, i + nums[i])
            if i == end:
                # Every index up to `end` has been scanned: spend one more jump.
                if furthest <= i:
                    return -1  # no jump gets past index i
                jumps += 1
                end = furthest
                if end >= last:
                    break
        return jumps
""",
    examples=[
        Example({"nums": [1, 4, 1, 1, 1, 2, 1]}, 3, "Jump 0 -> 1 -> 5 -> 6."),
        Example({"nums": [2, 1, 0, 3]}, -1, "Every path gets stuck on index 2, whose value is 0."),
    ],
    cases=[
        {"nums": [0]},
        {"nums": [0, 1]},
        {"nums": [5, 0, 0, 0, 0, 0]},
        {"nums": [1, 1, 1, 1]},
        {"nums": [100000, 1]},
        {"nums": [2, 0, 2, 0, 1]},
        {"nums": [3, 0, 0, 0, 2]},
        {"nums": [_r.randint(1, 4) for _ in range(800)]},
        {"nums": [_r.choice([0, 0, 1, 2, 3]) for _ in range(400)]},
        {"nums": [1] * 400},
    ],
    brute=_jumps_brute,
)

# --- grid-escape-steps ---------------------------------------------------------------------------


def _grid_brute(grid):
    m, n = len(grid), len(grid[0])
    if grid[0][0] or grid[m - 1][n - 1]:
        return -1
    inf = float("inf")
    dist = [[inf] * n for _ in range(m)]
    dist[0][0] = 0
    changed = True
    while changed:  # relax every cell until nothing improves
        changed = False
        for i in range(m):
            for j in range(n):
                if grid[i][j]:
                    continue
                for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
                    if 0 <= a < m and 0 <= b < n and dist[a][b] + 1 < dist[i][j]:
                        dist[i][j] = dist[a][b] + 1
                        changed = True
    return -1 if dist[m - 1][n - 1] == inf else dist[m - 1][n - 1]


def _random_grid(r, m, n, wall_chance):
    grid = [[1 if r.random() < wall_chance else 0 for _ in range(n)] for _ in range(m)]
    grid[0][0] = grid[m - 1][n - 1] = 0
    return grid


def _serpentine(m, n):
    # Every odd row is a wall with one gap, alternating between the right and the left end.
    grid = [[0] * n for _ in range(m)]
    for i in range(1, m, 2):
        grid[i] = [1] * n
        grid[i][n - 1 if i % 4 == 1 else 0] = 0
    return grid


_r = rng("grid-escape-steps")
GRID_ESCAPE_STEPS = Spec(
    task_id="grid-escape-steps",
    question_id=90017,
    difficulty="Medium",
    tags=["Array", "Breadth-First Search", "Matrix"],
    date="2024-08-12",
    statement=(
        "You are given an m x n grid in which 0 marks an open cell and 1 marks a wall. You start in the "
        "top-left cell (0, 0) and want to reach the bottom-right cell (m - 1, n - 1). In one step you "
        "move to an open cell that shares a side with your current cell.\n\n"
        "Return the minimum number of steps needed, or -1 if the bottom-right cell cannot be reached "
        "(in particular when the start or the destination is a wall)."
    ),
    constraints=[
        "m == grid.length, n == grid[i].length",
        "1 <= m, n <= 200",
        "grid[i][j] is 0 or 1.",
    ],
    signature="def escapeSteps(self, grid: List[List[int]]) -> int:",
    solution="""class Solution:
    def escapeSteps(self, grid: List[List[int]]) -> int:
        m, n = len(grid), len(grid[0])
        if grid[0][0] or grid[m - 1][n - 1]:
            return -1
        # Breadth-first search: cells are dequeued in order of their distance from the start.
        dist = [[-1] * n for _ in range(m)]
        dist[0][0] = 0
        queue = deque([(0, 0)])
        while queue:
            i, j = queue.popleft()
            if (i, j) == (m - 1, n - 1):
                return dist[i][j]
            for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
                if 0 <= a < m and 0 <= b < n and grid[a][b] == 0 and dist[a][b] < 0:
                    dist[a][b] = dist[i][j] + 1
                    queue.append((a, b))
        return -1
""",
    examples=[
        Example(
            {"grid": [[0, 0, 0], [1, 1, 0], [0, 0, 0]]},
            4,
            "Go right twice, then down twice.",
        ),
        Example({"grid": [[0, 1], [1, 0]]}, -1, "Both neighbours of the start are walls."),
    ],
    cases=[
        {"grid": [[0]]},
        {"grid": [[1]]},
        {"grid": [[0, 0], [0, 1]]},
        {"grid": [[0, 0, 0, 0]]},
        {"grid": [[0], [0], [0]]},
        {"grid": [[0, 1, 0, 0, 0], [0, 1, 0, 1, 0], [0, 1, 0, 1, 0], [0, 0, 0, 1, 0]]},
        {"grid": [[0, 0, 0], [0, 1, 0], [0, 0, 0]]},
        {"grid": _random_grid(_r, 25, 25, 0.28)},
        {"grid": _random_grid(_r, 20, 30, 0.2)},
        {"grid": _serpentine(15, 30)},
    ],
    brute=_grid_brute,
)

# --- count-network-groups ------------------------------------------------------------------------


def _groups_brute(n, links):
    label = list(range(n))
    changed = True
    while changed:
        changed = False
        for a, b in links:
            low = min(label[a], label[b])
            if label[a] != low or label[b] != low:
                label[a] = label[b] = low
                changed = True
    return len(set(label))


_r = rng("count-network-groups")
COUNT_NETWORK_GROUPS = Spec(
    task_id="count-network-groups",
    question_id=90018,
    difficulty="Medium",
    tags=["Graph", "Union Find", "Depth-First Search"],
    date="2024-08-26",
    statement=(
        "There are n computers labelled 0 to n - 1. Each links[i] = [a, b] is a cable between computers "
        "a and b; cables work in both directions. Two computers are in the same group when one can "
        "reach the other through a chain of cables.\n\n"
        "Return the number of groups. A cable may connect a computer to itself, and the same pair may be "
        "connected more than once."
    ),
    constraints=[
        "1 <= n <= 10^4",
        "0 <= links.length <= 10^4",
        "links[i].length == 2",
        "0 <= a, b < n",
    ],
    signature="def countGroups(self, n: int, links: List[List[int]]) -> int:",
    solution="""class Solution:
    def countGroups(self, n: int, links: List[List[int]]) -> int:
        parent = list(range(n))

        def find(x: int) -> int:
            # Walk to the root, halving the path on the way.
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        groups = n
        for a, b in links:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb
                groups -= 1  # every successful union joins two groups into one
        return groups
""",
    examples=[
        Example({"n": 5, "links": [[0, 1], [1, 2], [3, 4]]}, 2, "The groups are {0, 1, 2} and {3, 4}."),
        Example({"n": 4, "links": []}, 4),
    ],
    cases=[
        {"n": 1, "links": []},
        {"n": 3, "links": [[0, 0]]},
        {"n": 3, "links": [[0, 1], [1, 0], [0, 1]]},
        {"n": 6, "links": [[0, 5], [1, 4], [2, 3], [5, 1]]},
        {"n": 7, "links": [[6, 5], [5, 4], [4, 3], [3, 2], [2, 1], [1, 0]]},
        {"n": 10000, "links": [[0, 9999]]},
        {"n": 300, "links": [[_r.randrange(300), _r.randrange(300)] for _ in range(150)]},
        {"n": 150, "links": [[i, i + 1] for i in range(0, 149) if i % 37 != 0]},
    ],
    brute=_groups_brute,
)

# --- signal-arrival-time -------------------------------------------------------------------------


def _arrival_brute(n, wires, source):
    inf = float("inf")
    dist = [inf] * n
    dist[source] = 0
    for _ in range(n):  # Bellman-Ford
        for u, v, t in wires:
            if dist[u] + t < dist[v]:
                dist[v] = dist[u] + t
    worst = max(dist)
    return -1 if worst == inf else worst


def _random_wires(r, n, count, max_time):
    wires = []
    for _ in range(count):
        u = r.randrange(n)
        v = r.randrange(n - 1)
        v += v >= u  # never a wire from a station to itself
        wires.append([u, v, r.randint(0, max_time)])
    return wires


_r = rng("signal-arrival-time")
SIGNAL_ARRIVAL_TIME = Spec(
    task_id="signal-arrival-time",
    question_id=90019,
    difficulty="Medium",
    tags=["Graph", "Heap (Priority Queue)", "Shortest Path"],
    date="2024-09-09",
    statement=(
        "There are n relay stations labelled 0 to n - 1. Each wires[i] = [u, v, t] is a one-way wire: a "
        "signal at station u arrives at station v exactly t time units later. At time 0 a signal is "
        "emitted at station source, and every station forwards the signal along all of its outgoing "
        "wires as soon as it first receives it.\n\n"
        "Return the time at which the last station receives the signal, or -1 if some station never "
        "receives it."
    ),
    constraints=[
        "1 <= n <= 1000",
        "0 <= wires.length <= 5000",
        "0 <= u, v < n, u != v",
        "0 <= t <= 1000",
        "0 <= source < n",
    ],
    signature="def arrivalTime(self, n: int, wires: List[List[int]], source: int) -> int:",
    solution="""class Solution:
    def arrivalTime(self, n: int, wires: List[List[int]], source: int) -> int:
        graph = defaultdict(list)
        for u, v, t in wires:
            graph[u].append((v, t))
        # Dijkstra: stations leave the heap in order of their (final) arrival time.
        arrival = [inf] * n
        arrival[source] = 0
        heap = [(0, source)]
        while heap:
            time, u = heappop(heap)
            if time > arrival[u]:
                continue  # an outdated entry
            for v, t in graph[u]:
                if time + t < arrival[v]:
                    arrival[v] = time + t
                    heappush(heap, (arrival[v], v))
        latest = max(arrival)
        return -1 if latest == inf else latest
""",
    examples=[
        Example(
            {"n": 4, "wires": [[0, 1, 4], [0, 2, 1], [2, 1, 2], [1, 3, 1]], "source": 0},
            4,
            "Station 2 receives the signal at time 1, station 1 at time 3 (through station 2) and "
            "station 3 at time 4.",
        ),
        Example({"n": 3, "wires": [[0, 1, 5]], "source": 0}, -1, "Nothing reaches station 2."),
    ],
    cases=[
        {"n": 1, "wires": [], "source": 0},
        {"n": 2, "wires": [[1, 0, 3]], "source": 1},
        {"n": 2, "wires": [[1, 0, 3]], "source": 0},
        {"n": 3, "wires": [[0, 1, 9], [0, 1, 2], [1, 2, 0]], "source": 0},
        {"n": 4, "wires": [[0, 1, 0], [1, 2, 0], [2, 3, 0], [3, 0, 0]], "source": 2},
        {"n": 3, "wires": [[0, 1, 1000], [1, 2, 1000], [0, 2, 1999]], "source": 0},
        {"n": 5, "wires": [[2, 0, 7], [2, 1, 1], [1, 0, 1], [0, 3, 2], [3, 4, 5], [1, 4, 20]], "source": 2},
        {"n": 100, "wires": _random_wires(_r, 100, 140, 99), "source": 17},
        {"n": 60, "wires": _random_wires(_r, 60, 100, 1000), "source": 0},
        {"n": 60, "wires": [[i, i + 1, 1000] for i in range(59)], "source": 0},
    ],
    brute=_arrival_brute,
)

# --- meeting-rooms-needed ------------------------------------------------------------------------


def _rooms_brute(meetings):
    return max((sum(1 for s, e in meetings if s <= t < e) for t, _ in meetings), default=0)


def _random_meetings(r, count, horizon, longest):
    out = []
    for _ in range(count):
        s = r.randint(0, horizon)
        out.append([s, s + r.randint(1, longest)])
    return out


_r = rng("meeting-rooms-needed")
MEETING_ROOMS_NEEDED = Spec(
    task_id="meeting-rooms-needed",
    question_id=90020,
    difficulty="Medium",
    tags=["Array", "Sorting", "Heap (Priority Queue)", "Greedy"],
    date="2024-09-23",
    statement=(
        "Each meetings[i] = [start_i, end_i] is a meeting that needs a room from time start_i up to, but "
        "not including, time end_i. A room holds one meeting at a time, and a meeting that ends at time "
        "t frees its room for a meeting that starts at time t.\n\n"
        "Return the minimum number of rooms needed to hold all the meetings."
    ),
    constraints=[
        "0 <= meetings.length <= 10^4",
        "-10^9 <= start_i < end_i <= 10^9",
    ],
    signature="def roomsNeeded(self, meetings: List[List[int]]) -> int:",
    solution="""class Solution:
    def roomsNeeded(self, meetings: List[List[int]]) -> int:
        # Process meetings by start time; the heap holds the end times of the rooms in use.
        busy: List[int] = []
        for start, end in sorted(meetings):
            if busy and busy[0] <= start:
                heapreplace(busy, end)  # reuse the room that frees up first
            else:
                heappush(busy, end)
        return len(busy)
""",
    examples=[
        Example(
            {"meetings": [[9, 12], [10, 11], [11, 13], [12, 15]]},
            2,
            "[10,11] ends when [11,13] starts and [9,12] ends when [12,15] starts, so two rooms suffice.",
        ),
        Example({"meetings": [[1, 5], [2, 6], [3, 7], [4, 8]]}, 4, "All four meetings run at time 4."),
    ],
    cases=[
        {"meetings": []},
        {"meetings": [[1, 2]]},
        {"meetings": [[1, 2], [2, 3], [3, 4]]},
        {"meetings": [[-5, 5], [-10, -5], [0, 1]]},
        {"meetings": [[0, 10**9], [1, 2], [2, 3]]},
        {"meetings": [[1, 3]] * 5},
        {"meetings": [[-(10**9), 10**9], [-(10**9), 10**9]]},
        {"meetings": [[1, 10], [2, 3], [3, 4], [4, 5], [9, 12], [11, 13]]},
        {"meetings": _random_meetings(_r, 150, 999, 60)},
        {"meetings": [[i, 300 - i] for i in range(100)]},
    ],
    brute=_rooms_brute,
)

# --- running-medians -----------------------------------------------------------------------------


def _medians_brute(stream):
    out = []
    for i in range(1, len(stream) + 1):
        seen = sorted(stream[:i])
        mid = i // 2
        out.append(float(seen[mid]) if i % 2 else (seen[mid - 1] + seen[mid]) / 2)
    return out


_r = rng("running-medians")
RUNNING_MEDIANS = Spec(
    task_id="running-medians",
    question_id=90021,
    difficulty="Hard",
    tags=["Heap (Priority Queue)", "Data Stream", "Sorting"],
    date="2024-10-07",
    statement=(
        "Numbers arrive one at a time in the order given by stream. After each arrival, report the "
        "median of all the numbers received so far: the middle value once they are sorted, or the mean "
        "of the two middle values when their count is even.\n\n"
        "Return the list of reported medians. Answers within 10^-5 of the exact values are accepted."
    ),
    constraints=[
        "0 <= stream.length <= 5 * 10^4",
        "-10^9 <= stream[i] <= 10^9",
    ],
    signature="def runningMedians(self, stream: List[int]) -> List[float]:",
    solution="""class Solution:
    def runningMedians(self, stream: List[int]) -> List[float]:
        low: List[int] = []  # max-heap (negated) with the smaller half; may hold one extra element
        high: List[int] = []  # min-heap with the larger half
        medians: List[float] = []
        for x in stream:
            # Route x through the lower half so that every element of low stays <= every one of high.
            heappush(low, -x)
            heappush(high, -heappop(low))
            if len(high) > len(low):
                heappush(low, -heappop(high))
            if len(low) > len(high):
                medians.append(float(-low[0]))
            else:
                medians.append((-low[0] + high[0]) / 2)
        return medians
""",
    examples=[
        Example({"stream": [5, 15, 1, 3]}, [5.0, 10.0, 5.0, 4.0]),
        Example({"stream": [-2, -7]}, [-2.0, -4.5]),
    ],
    cases=[
        {"stream": []},
        {"stream": [7]},
        {"stream": [1, 2]},
        {"stream": [2, 2, 2, 2]},
        {"stream": [10**9, -(10**9), 10**9]},
        {"stream": [1, 3, 5, 7, 9, 11]},
        {"stream": [6, 5, 4, 3, 2, 1, 0, -1]},
        {"stream": [_r.randint(-99, 99) for _ in range(220)]},
        {"stream": [_r.randint(-(10**9), 10**9) for _ in range(40)]},
    ],
    brute=_medians_brute,
)

PROBLEMS = [
    FEWEST_JUMPS,
    GRID_ESCAPE_STEPS,
    COUNT_NETWORK_GROUPS,
    SIGNAL_ARRIVAL_TIME,
    MEETING_ROOMS_NEEDED,
    RUNNING_MEDIANS,
]
