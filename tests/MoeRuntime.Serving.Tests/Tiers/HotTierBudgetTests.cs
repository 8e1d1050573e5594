using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Serving.Tests.Tiers;

public class HotTierBudgetTests
{
    readonly Lock _gate = new();
    readonly List<Holding> _holdings = [];
    readonly List<string> _evicted = [];
    HotTierBudget<Holding>? _budget;

    HotTierBudget<Holding> Budget(long cap) => _budget = new HotTierBudget<Holding>(_gate, _holdings, cap);

    /// <summary>A transient hot copy of <paramref name="bytes"/>, reserved in the budget.</summary>
    Holding Hold(string name, long bytes, long lastUsed, bool leased = false, bool assignedHot = false)
    {
        var holding = new Holding(name, bytes) { LastUsed = lastUsed, Leased = leased, AssignedHot = assignedHot };
        _holdings.Add(holding);
        Assert.True(_budget!.TryReserve(bytes, Evict), $"{name} fits the budget");
        holding.Hot = true;
        return holding;
    }

    void Evict(Holding holding)
    {
        Assert.True(holding.IsEvictable, $"{holding.Name} was evicted though it may not be");
        holding.Hot = false;
        _evicted.Add(holding.Name);
        _budget!.Release(holding.HotBytes);
    }

    [Fact]
    public void ReservesWithinTheBudgetWithoutEvicting()
    {
        lock (_gate)
        {
            var budget = Budget(100);
            Hold("a", 40, lastUsed: 1);
            Assert.True(budget.TryReserve(60, Evict));
            Assert.Equal(100, budget.Used);
            Assert.Equal(100, budget.HighWater);
            Assert.Empty(_evicted);
            budget.Release(60);
            Assert.Equal(40, budget.Used);
            Assert.Equal(100, budget.HighWater);
        }
    }

    [Fact]
    public void EvictsLeastRecentlyUsedFirstAndOnlyAsMuchAsNeeded()
    {
        lock (_gate)
        {
            var budget = Budget(100);
            Hold("a", 30, lastUsed: 5);
            Hold("b", 30, lastUsed: 2);
            Hold("c", 30, lastUsed: 9);

            Assert.True(budget.TryReserve(40, Evict));
            Assert.Equal(["b"], _evicted);
            Assert.Equal(100, budget.Used);

            Assert.True(budget.TryReserve(30, Evict));
            Assert.Equal(["b", "a"], _evicted);
            Assert.Equal(100, budget.Used);
        }
    }

    [Fact]
    public void RefusesAndEvictsNothingWhenEvictingCouldNotMakeRoom()
    {
        lock (_gate)
        {
            var budget = Budget(100);
            Hold("a", 30, lastUsed: 1);
            Hold("b", 60, lastUsed: 2, leased: true);

            Assert.False(budget.TryReserve(50, Evict));
            Assert.Empty(_evicted);
            Assert.Equal(90, budget.Used);
            Assert.True(budget.TryReserve(40, Evict));
            Assert.Equal(["a"], _evicted);
        }
    }

    [Fact]
    public void NeverEvictsLeasedOrAssignedHotExperts()
    {
        lock (_gate)
        {
            var budget = Budget(100);
            Hold("leased", 40, lastUsed: 1, leased: true);
            Hold("assigned", 40, lastUsed: 2, assignedHot: true);
            Hold("transient", 20, lastUsed: 3);

            Assert.True(budget.TryReserve(20, Evict));
            Assert.Equal(["transient"], _evicted);
            Assert.Null(budget.LeastRecentlyUsedEvictable());
            Assert.False(budget.TryReserve(1, Evict));
            Assert.Equal(["transient"], _evicted);
        }
    }

    [Fact]
    public void AShrunkCapIsMetByEvictingWhatMayGoAndTheRestWhenLeasesEnd()
    {
        lock (_gate)
        {
            var budget = Budget(100);
            var leased = Hold("leased", 50, lastUsed: 1, leased: true);
            Hold("b", 30, lastUsed: 3);
            Hold("c", 20, lastUsed: 2);

            budget.Cap = 40;
            Assert.False(budget.EvictToCap(Evict));
            Assert.Equal(["c", "b"], _evicted);
            Assert.Equal(50, budget.Used);

            leased.Leased = false;
            Assert.True(budget.EvictToCap(Evict));
            Assert.Equal(["c", "b", "leased"], _evicted);
            Assert.Equal(0, budget.Used);
        }
    }

    [Fact]
    public void RoomFreedCompletesWhenBytesAreReleasedOrRoomIsSignalled()
    {
        Task released, signalled;
        lock (_gate)
        {
            var budget = Budget(100);
            Assert.True(budget.TryReserve(100, Evict));
            released = budget.RoomFreed();
            Assert.Same(released, budget.RoomFreed());
            Assert.False(released.IsCompleted);
            budget.Release(10);
            signalled = budget.RoomFreed();
            Assert.NotSame(released, signalled);
            Assert.False(signalled.IsCompleted);
            budget.SignalRoom();
        }
        Assert.True(released.IsCompletedSuccessfully);
        Assert.True(signalled.IsCompletedSuccessfully);
    }

    [Fact]
    public void AssignmentFitsCountsTheBytesAssignedHot()
    {
        lock (_gate)
        {
            var budget = Budget(100);
            budget.AddAssigned(70);
            Assert.True(budget.AssignmentFits(30));
            Assert.False(budget.AssignmentFits(31));
            Assert.True(budget.AssignmentFits(31, alreadyAssigned: 20));
            budget.AddAssigned(-70);
            Assert.Equal(0, budget.Assigned);
        }
    }

    [Fact]
    public void RefusesNegativeBudgetsAndReservations()
    {
        lock (_gate)
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => Budget(-1));
            var budget = Budget(10);
            Assert.Throws<ArgumentOutOfRangeException>(() => budget.Cap = -1);
            Assert.Throws<ArgumentOutOfRangeException>(() => budget.TryReserve(-1, Evict));
        }
    }

    internal sealed class Holding(string name, long hotBytes) : IHotHolding
    {
        public string Name { get; } = name;
        public long HotBytes { get; } = hotBytes;
        public long LastUsed { get; set; }
        public bool Hot { get; set; }
        public bool Leased { get; set; }
        public bool AssignedHot { get; set; }
        public bool IsEvictable => Hot && !AssignedHot && !Leased;
    }
}
