// Each test class runs its own three-silo cluster; two at once would fight over the machine's two cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
