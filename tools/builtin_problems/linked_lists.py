"""Linked-list problems. Arguments are passed as list_node([...]); brute-force checkers see plain lists."""

from __future__ import annotations

from ._spec import Example, Spec, rng

# --- drop-every-kth-node -------------------------------------------------------------------------

_r = rng("drop-every-kth-node")
DROP_EVERY_KTH_NODE = Spec(
    task_id="drop-every-kth-node",
    question_id=90026,
    difficulty="Easy",
    tags=["Linked List"],
    date="2024-12-16",
    statement=(
        "You are given the head of a singly linked list and a positive integer k. Delete the nodes at "
        "positions k, 2k, 3k, and so on, where positions are counted from 1 in the original list.\n\n"
        "Return the head of the resulting list."
    ),
    constraints=[
        "The number of nodes in the list is in the range [0, 10^4].",
        "-10^5 <= Node.val <= 10^5",
        "1 <= k <= 10^5",
    ],
    signature="def dropEveryKth(self, head: Optional[ListNode], k: int) -> Optional[ListNode]:",
    solution="""class Solution:
    def dropEveryKth(self, head: Optional[ListNode], k: int) -> Optional[ListNode]:
        dummy = ListNode(0, head)
        prev, node = dummy, head
        position = 1
        while node:
            if position % k == 0:
                prev.next = node.next  # unlink; prev stays where it is
            else:
                prev = node
            node = node.next
            position += 1
        return dummy.next
""",
    examples=[
        Example({"head": [1, 2, 3, 4, 5, 6, 7], "k": 3}, [1, 2, 4, 5, 7], "Positions 3 and 6 are removed."),
        Example({"head": [9, 8], "k": 1}, [], "With k = 1 every node is removed."),
    ],
    cases=[
        {"head": [], "k": 2},
        {"head": [5], "k": 1},
        {"head": [5], "k": 2},
        {"head": [1, 2, 3, 4], "k": 4},
        {"head": [1, 2, 3, 4], "k": 100000},
        {"head": [-1, -2, -3, -4, -5, -6], "k": 2},
        {"head": [100000, -100000, 100000], "k": 3},
        {"head": [_r.randint(-99, 99) for _ in range(300)], "k": 7},
        {"head": [_r.randint(0, 9) for _ in range(300)], "k": 2},
    ],
    arg_kinds={"head": "list_node"},
    result="list_node",
    brute=lambda head, k: [v for i, v in enumerate(head, start=1) if i % k],
)

# --- rotate-list-right ---------------------------------------------------------------------------


def _rotate_brute(head, k):
    if not head:
        return []
    k %= len(head)
    return head[len(head) - k :] + head[: len(head) - k]


_r = rng("rotate-list-right")
ROTATE_LIST_RIGHT = Spec(
    task_id="rotate-list-right",
    question_id=90027,
    difficulty="Medium",
    tags=["Linked List", "Two Pointers"],
    date="2024-12-30",
    statement=(
        "Given the head of a singly linked list, rotate the list to the right k times. One rotation "
        "moves the last node to the front of the list.\n\n"
        "Return the head of the rotated list."
    ),
    constraints=[
        "The number of nodes in the list is in the range [0, 5000].",
        "-1000 <= Node.val <= 1000",
        "0 <= k <= 2 * 10^9",
    ],
    signature="def rotateRight(self, head: Optional[ListNode], k: int) -> Optional[ListNode]:",
    solution="""class Solution:
    def rotateRight(self, head: Optional[ListNode], k: int) -> Optional[ListNode]:
        if head is None:
            return None
        # Find the length and the tail; rotating by a multiple of the length changes nothing.
        length, tail = 1, head
        while tail.next:
            tail = tail.next
            length += 1
        k %= length
        if k == 0:
            return head
        # The new tail is the node length - k - 1 steps after the head.
        new_tail = head
        for _ in range(length - k - 1):
            new_tail = new_tail.next
        new_head = new_tail.next
        new_tail.next = None
        tail.next = head
        return new_head
""",
    examples=[
        Example({"head": [10, 20, 30, 40], "k": 1}, [40, 10, 20, 30]),
        Example({"head": [1, 2, 3], "k": 5}, [2, 3, 1], "Five rotations of three nodes equal two rotations."),
    ],
    cases=[
        {"head": [], "k": 7},
        {"head": [1], "k": 10**9},
        {"head": [1, 2], "k": 0},
        {"head": [1, 2], "k": 2},
        {"head": [-3, -2, -1], "k": 1},
        {"head": [5, 5, 6, 5], "k": 3},
        {"head": [_r.randint(-999, 999) for _ in range(200)], "k": 2 * 10**9},
        {"head": [_r.randint(0, 9) for _ in range(300)], "k": 299},
        {"head": list(range(100)), "k": 1999999999},
    ],
    arg_kinds={"head": "list_node"},
    result="list_node",
    brute=_rotate_brute,
)

# --- add-forward-digit-lists ---------------------------------------------------------------------


def _add_brute(first, second):
    total = int("".join(map(str, first))) + int("".join(map(str, second)))
    return [int(d) for d in str(total)]


def _random_number(r, digits):
    return [r.randint(1, 9)] + [r.randint(0, 9) for _ in range(digits - 1)]


_r = rng("add-forward-digit-lists")
ADD_FORWARD_DIGIT_LISTS = Spec(
    task_id="add-forward-digit-lists",
    question_id=90028,
    difficulty="Medium",
    tags=["Linked List", "Math", "Stack"],
    date="2025-01-13",
    statement=(
        "Two non-negative integers are stored in linked lists, one decimal digit per node, with the most "
        "significant digit first. Neither number has leading zeros, except the number 0 itself, which is "
        "a single node with value 0.\n\n"
        "Return the sum of the two numbers as a linked list in the same format."
    ),
    constraints=[
        "The number of nodes in each list is in the range [1, 1000].",
        "0 <= Node.val <= 9",
        "Neither list has leading zeros, except the number 0 itself.",
    ],
    signature=(
        "def addForward(self, first: Optional[ListNode], second: Optional[ListNode]) -> Optional[ListNode]:"
    ),
    solution="""class Solution:
    def addForward(self, first: Optional[ListNode], second: Optional[ListNode]) -> Optional[ListNode]:
        def digits(node: Optional[ListNode]) -> List[int]:
            out = []
            while node:
                out.append(node.val)
                node = node.next
            return out

        a, b = digits(first), digits(second)
        head = None
        carry = 0
        # Add from the least significant digit, building the result from its end towards its front.
        while a or b or carry:
            total = carry + (a.pop() if a else 0) + (b.pop() if b else 0)
            carry, digit = divmod(total, 10)
            head = ListNode(digit, head)
        return head
""",
    examples=[
        Example({"first": [9, 5, 2], "second": [6, 8]}, [1, 0, 2, 0], "952 + 68 = 1020."),
        Example({"first": [0], "second": [0]}, [0]),
    ],
    cases=[
        {"first": [0], "second": [7, 3]},
        {"first": [9, 9, 9, 9], "second": [1]},
        {"first": [5], "second": [5]},
        {"first": [1] + [0] * 10, "second": [9, 9, 9]},
        {"first": [4, 2], "second": [0]},
        {"first": [1, 2, 3], "second": [8, 7, 6]},
        {"first": _random_number(_r, 300), "second": _random_number(_r, 250)},
        {"first": [9] * 300, "second": [1]},
    ],
    arg_kinds={"first": "list_node", "second": "list_node"},
    result="list_node",
    brute=_add_brute,
)

# --- sort-linked-list ----------------------------------------------------------------------------

_r = rng("sort-linked-list")
SORT_LINKED_LIST = Spec(
    task_id="sort-linked-list",
    question_id=90029,
    difficulty="Medium",
    tags=["Linked List", "Sorting", "Divide and Conquer", "Merge Sort"],
    date="2025-01-27",
    statement=(
        "Given the head of a singly linked list, sort the list in non-decreasing order of the node "
        "values and return the head of the sorted list.\n\n"
        "Aim for O(n log n) time."
    ),
    constraints=[
        "The number of nodes in the list is in the range [0, 5 * 10^4].",
        "-10^5 <= Node.val <= 10^5",
    ],
    signature="def sortLinkedList(self, head: Optional[ListNode]) -> Optional[ListNode]:",
    solution="""class Solution:
    def sortLinkedList(self, head: Optional[ListNode]) -> Optional[ListNode]:
        # Merge sort: split at the middle, sort both halves, merge them.
        if head is None or head.next is None:
            return head
        slow, fast = head, head.next
        while fast and fast.next:
            slow = slow.next
            fast = fast.next.next
        second = slow.next
        slow.next = None
        left, right = self.sortLinkedList(head), self.sortLinkedList(second)

        dummy = tail = ListNode()
        while left and right:
            if left.val <= right.val:
                tail.next, left = left, left.next
            else:
                tail.next, right = right, right.next
            tail = tail.next
        tail.next = left or right
        return dummy.next
""",
    examples=[
        Example({"head": [4, -1, 3, 0]}, [-1, 0, 3, 4]),
        Example({"head": []}, []),
    ],
    cases=[
        {"head": [1]},
        {"head": [2, 1]},
        {"head": [3, 3, 1, 3]},
        {"head": [1, 2, 3, 4, 5]},
        {"head": [100000, -100000, 0]},
        {"head": [-5, -7, -6]},
        {"head": [_r.randint(-99, 99) for _ in range(250)]},
        {"head": list(range(150, 0, -1))},
        {"head": [_r.randint(0, 5) for _ in range(150)]},
    ],
    arg_kinds={"head": "list_node"},
    result="list_node",
    brute=lambda head: sorted(head),
)

# --- list-longest-rising-run ---------------------------------------------------------------------


def _run_brute(head):
    best = 0
    for i in range(len(head)):
        j = i
        while j + 1 < len(head) and head[j] < head[j + 1]:
            j += 1
        best = max(best, j - i + 1)
    return best


_r = rng("list-longest-rising-run")
LIST_LONGEST_RISING_RUN = Spec(
    task_id="list-longest-rising-run",
    question_id=90030,
    difficulty="Easy",
    tags=["Linked List"],
    date="2025-02-10",
    statement=(
        "Given the head of a singly linked list, return the length of its longest rising run: the "
        "largest number of consecutive nodes in which every value is strictly larger than the value "
        "before it.\n\n"
        "A single node is a rising run of length 1; an empty list has no run, and the answer is 0."
    ),
    constraints=[
        "The number of nodes in the list is in the range [0, 10^5].",
        "-10^9 <= Node.val <= 10^9",
    ],
    signature="def longestRisingRun(self, head: Optional[ListNode]) -> int:",
    solution="""class Solution:
    def longestRisingRun(self, head: Optional[ListNode]) -> int:
        best = run = 0
        prev = None
        node = head
        while node:
            # Extend the current run or start a new one at this node.
            run = run + 1 if prev is not None and node.val > prev else 1
            best = max(best, run)
            prev = node.val
            node = node.next
        return best
""",
    examples=[
        Example({"head": [2, 4, 4, 5, 6, 1]}, 3, "The run 4 -> 5 -> 6 has length 3; 4 -> 4 is not rising."),
        Example({"head": []}, 0),
    ],
    cases=[
        {"head": [7]},
        {"head": [5, 4, 3]},
        {"head": [-3, -2, -1, 0]},
        {"head": [1, 1, 1]},
        {"head": [-(10**9), 10**9, -(10**9), 0, 10**9]},
        {"head": [1, 2, 1, 2, 3, 1, 2, 3, 4]},
        {"head": [_r.randint(0, 99) for _ in range(400)]},
        {"head": list(range(200))},
        {"head": [i % 40 for i in range(200)]},
    ],
    arg_kinds={"head": "list_node"},
    brute=_run_brute,
)

PROBLEMS = [
    DROP_EVERY_KTH_NODE,
    ROTATE_LIST_RIGHT,
    ADD_FORWARD_DIGIT_LISTS,
    SORT_LINKED_LIST,
    LIST_LONGEST_RISING_RUN,
]
