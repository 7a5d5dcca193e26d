"""Binary-tree problems. Trees are passed as tree_node([...]) level-order lists with None gaps."""

from __future__ import annotations

from ._spec import (
    Example,
    Spec,
    bst_from_values,
    build_tree,
    complete_tree,
    random_tree,
    rng,
    serialize_tree,
)

# --- mirror-binary-tree --------------------------------------------------------------------------


def _mirror_brute(root):
    def mirror(node):
        if node is None:
            return None
        node.left, node.right = mirror(node.right), mirror(node.left)
        return node

    return serialize_tree(mirror(build_tree(root)))


def _zigzag_path(depth):
    # A single path that alternates between left and right children, written level by level.
    values = [0]
    for d in range(1, depth):
        values += [d, None] if d % 2 else [None, d]
    while values[-1] is None:
        values.pop()
    return values


_r = rng("mirror-binary-tree")
MIRROR_BINARY_TREE = Spec(
    task_id="mirror-binary-tree",
    question_id=90031,
    difficulty="Easy",
    tags=["Tree", "Depth-First Search", "Breadth-First Search", "Binary Tree"],
    date="2025-02-24",
    statement=(
        "Given the root of a binary tree, turn it into its mirror image by swapping the left and right "
        "children of every node, and return the root of the result."
    ),
    constraints=[
        "The number of nodes in the tree is in the range [0, 10^4].",
        "-1000 <= Node.val <= 1000",
    ],
    signature="def mirrorTree(self, root: Optional[TreeNode]) -> Optional[TreeNode]:",
    solution="""class Solution:
    def mirrorTree(self, root: Optional[TreeNode]) -> Optional[TreeNode]:
        # Swap the children of every node; an explicit stack avoids deep recursion.
        stack = [root]
        while stack:
            node = stack.pop()
            if node:
                node.left, node.right = node.right, node.left
                stack.append(node.left)
                stack.append(node.right)
        return root
""",
    examples=[
        Example({"root": [1, 2, 3, None, 4, 5]}, [1, 3, 2, None, 5, 4]),
        Example({"root": []}, []),
    ],
    cases=[
        {"root": [1]},
        {"root": [1, 2]},
        {"root": [1, None, 2, None, 3]},
        {"root": [-1, -2, -3, -4, None, None, -5]},
        {"root": [0, 0, 0, None, 0]},
        {"root": [1000, -1000, 1000, -1000]},
        {"root": complete_tree(_r, 200, -99, 99)},
        {"root": random_tree(_r, 100, -99, 99)},
        {"root": _zigzag_path(60)},
    ],
    arg_kinds={"root": "tree_node"},
    result="tree_node",
    brute=_mirror_brute,
)

# --- tree-level-averages -------------------------------------------------------------------------


def _averages_brute(root):
    sums, counts = [], []

    def visit(node, depth):
        if node is None:
            return
        if depth == len(sums):
            sums.append(0)
            counts.append(0)
        sums[depth] += node.val
        counts[depth] += 1
        visit(node.left, depth + 1)
        visit(node.right, depth + 1)

    visit(build_tree(root), 0)
    return [s / c for s, c in zip(sums, counts, strict=True)]


_r = rng("tree-level-averages")
TREE_LEVEL_AVERAGES = Spec(
    task_id="tree-level-averages",
    question_id=90032,
    difficulty="Easy",
    tags=["Tree", "Breadth-First Search", "Binary Tree"],
    date="2025-03-10",
    statement=(
        "Given the root of a binary tree, return a list whose i-th element is the average value of the "
        "nodes at depth i (the root is at depth 0). An empty tree gives an empty list. Answers within "
        "10^-5 of the exact values are accepted."
    ),
    constraints=[
        "The number of nodes in the tree is in the range [0, 10^4].",
        "-2^31 <= Node.val <= 2^31 - 1",
    ],
    signature="def levelAverages(self, root: Optional[TreeNode]) -> List[float]:",
    solution="""class Solution:
    def levelAverages(self, root: Optional[TreeNode]) -> List[float]:
        averages: List[float] = []
        level = [root] if root else []
        # Breadth-first, one whole level at a time.
        while level:
            averages.append(sum(node.val for node in level) / len(level))
            level = [child for node in level for child in (node.left, node.right) if child]
        return averages
""",
    examples=[
        Example(
            {"root": [5, 1, 8, None, 4, 7, 9]},
            [5.0, 4.5, 20 / 3],
            "The levels are [5], [1, 8] and [4, 7, 9], with averages 5, 4.5 and 20 / 3.",
        ),
        Example({"root": []}, []),
    ],
    cases=[
        {"root": [7]},
        {"root": [2**31 - 1, 2**31 - 1, 2**31 - 1]},
        {"root": [-(2**31), -(2**31), 2**31 - 1]},
        {"root": [-1, -2, -4]},
        {"root": [1, 2, None, 3, None, 4]},
        {"root": [3, 1, 2, 0, 0, 1, 1, 5, None, None, 2]},
        {"root": complete_tree(_r, 500, -99, 99)},
        {"root": random_tree(_r, 120, -(10**5), 10**5)},
    ],
    arg_kinds={"root": "tree_node"},
    brute=_averages_brute,
)

# --- best-root-to-leaf-sum -----------------------------------------------------------------------


def _path_brute(root):
    sums = []

    def visit(node, total):
        total += node.val
        if node.left is None and node.right is None:
            sums.append(total)
        for child in (node.left, node.right):
            if child is not None:
                visit(child, total)

    visit(build_tree(root), 0)
    return max(sums)


_r = rng("best-root-to-leaf-sum")
BEST_ROOT_TO_LEAF_SUM = Spec(
    task_id="best-root-to-leaf-sum",
    question_id=90033,
    difficulty="Medium",
    tags=["Tree", "Depth-First Search", "Binary Tree"],
    date="2025-03-24",
    statement=(
        "You are given the root of a non-empty binary tree whose node values may be negative. A "
        "root-to-leaf path starts at the root and follows child links down to a leaf, a node without "
        "children.\n\n"
        "Return the largest sum of the node values along a root-to-leaf path."
    ),
    constraints=[
        "The number of nodes in the tree is in the range [1, 10^4].",
        "-10^4 <= Node.val <= 10^4",
    ],
    signature="def bestPathSum(self, root: Optional[TreeNode]) -> int:",
    solution="""class Solution:
    def bestPathSum(self, root: Optional[TreeNode]) -> int:
        best = -inf
        # Depth-first with an explicit stack of (node, sum of the path down to and including node).
        stack = [(root, root.val)]
        while stack:
            node, total = stack.pop()
            if node.left is None and node.right is None:
                best = max(best, total)
            for child in (node.left, node.right):
                if child:
                    stack.append((child, total + child.val))
        return best
""",
    examples=[
        Example(
            {"root": [1, -2, 3, 4, None, -5, 2]},
            6,
            "The paths are 1 -> -2 -> 4 (sum 3), 1 -> 3 -> -5 (sum -1) and 1 -> 3 -> 2 (sum 6).",
        ),
        Example({"root": [-8, -3]}, -11, "The root has a child, so the only leaf is -3."),
    ],
    cases=[
        {"root": [5]},
        {"root": [1, 2]},
        {"root": [1, None, -2]},
        {"root": [-1, -5, -3, None, None, -10]},
        {"root": [10**4, -(10**4), 10**4, None, None, None, 10**4]},
        {"root": [0, 1, 1, -5, None, None, -4]},
        {"root": complete_tree(_r, 400, -99, 99)},
        {"root": random_tree(_r, 150, -999, 999)},
        {"root": random_tree(_r, 150, -50, 30)},
    ],
    arg_kinds={"root": "tree_node"},
    brute=_path_brute,
)

# --- trim-bst-to-range ---------------------------------------------------------------------------


def _trim_brute(root, low, high):
    # The trimmed tree keeps the ancestor order of the kept nodes, so inserting the kept values in
    # the original preorder into an empty search tree rebuilds it exactly.
    kept = []
    stack = [build_tree(root)]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        if low <= node.val <= high:
            kept.append(node.val)
        stack.append(node.right)
        stack.append(node.left)
    return bst_from_values(kept)


_r = rng("trim-bst-to-range")
_BIG_BST = bst_from_values(_r.sample(range(-999, 1000), 120))
TRIM_BST_TO_RANGE = Spec(
    task_id="trim-bst-to-range",
    question_id=90034,
    difficulty="Medium",
    tags=["Tree", "Depth-First Search", "Binary Search Tree", "Binary Tree"],
    date="2025-04-07",
    statement=(
        "You are given the root of a binary search tree with distinct values and two integers low and "
        "high. Remove every node whose value is outside the range [low, high] as follows: if the root's "
        "value is smaller than low, the root and its whole left subtree go away and the answer is the "
        "trimmed right subtree; if it is larger than high, symmetrically, the answer is the trimmed left "
        "subtree; otherwise the root stays and both of its subtrees are trimmed the same way.\n\n"
        "Return the root of the trimmed tree (possibly empty)."
    ),
    constraints=[
        "The number of nodes in the tree is in the range [0, 10^4].",
        "-10^4 <= Node.val <= 10^4",
        "All values in the tree are distinct, and the tree is a valid binary search tree.",
        "-10^4 <= low <= high <= 10^4",
    ],
    signature="def trimToRange(self, root: Optional[TreeNode], low: int, high: int) -> Optional[TreeNode]:",
    solution="""class Solution:
    def trimToRange(self, root: Optional[TreeNode], low: int, high: int) -> Optional[TreeNode]:
        if root is None:
            return None
        # Thanks to the search-tree order, a root outside the range rules out one whole side.
        if root.val < low:
            return self.trimToRange(root.right, low, high)
        if root.val > high:
            return self.trimToRange(root.left, low, high)
        root.left = self.trimToRange(root.left, low, high)
        root.right = self.trimToRange(root.right, low, high)
        return root
""",
    examples=[
        Example({"root": [6, 3, 9, 1, 4, 8, 10], "low": 4, "high": 8}, [6, 4, 8]),
        Example({"root": [2, 1, 3], "low": 5, "high": 7}, [], "Every value is below 5."),
    ],
    cases=[
        {"root": [], "low": 0, "high": 10},
        {"root": [5], "low": 5, "high": 5},
        {"root": [5], "low": 6, "high": 9},
        {"root": [3, 1, 4, None, 2], "low": 1, "high": 2},
        {"root": [-2, -5, 0, -7, -3, -1, 4], "low": -4, "high": -1},
        {"root": [0, -10000, 10000], "low": -10000, "high": 10000},
        {"root": [8, 4, 12, 2, 6, 10, 14, 1, 3, 5, 7, 9, 11, 13, 15], "low": 3, "high": 11},
        {"root": _BIG_BST, "low": -250, "high": 500},
        {"root": _BIG_BST, "low": 800, "high": 10000},
    ],
    arg_kinds={"root": "tree_node"},
    result="tree_node",
    brute=_trim_brute,
)

PROBLEMS = [MIRROR_BINARY_TREE, TREE_LEVEL_AVERAGES, BEST_ROOT_TO_LEAF_SUM, TRIM_BST_TO_RANGE]
