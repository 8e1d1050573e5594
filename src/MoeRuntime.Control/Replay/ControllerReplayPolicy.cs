using MoeRuntime.Control.Guardrails;
using MoeRuntime.Control.Latency;
using MoeRuntime.Control.Loop;
using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Replay;

/// <summary>How the controllers' policy runs under replay.</summary>
public sealed record ControllerReplayOptions
{
    /// <summary>
    /// The latency controller's options. Replay measures no latency, so the controller holds its whole hot allowance
    /// (the hot budget) and only the demand options matter: <see cref="LatencyControllerOptions.DemandHalfLifeIntervals"/>
    /// and <see cref="LatencyControllerOptions.MinDemand"/>.
    /// </summary>
    public LatencyControllerOptions Latency { get; init; } = new() { DemandHalfLifeIntervals = 32 };

    /// <summary>The guardrails every plan passes (hysteresis, change cap per layer and interval).</summary>
    public GuardrailOptions Guardrails { get; init; } = new() { HysteresisRatio = 0.05 };

    /// <summary>
    /// Hot slots per layer kept out of the controller's hot budget, for transient copies only. The runtime needs at
    /// least one: its tier store refuses a miss when experts assigned hot leave no room for the missed expert. With 0
    /// the replay instead displaces an assigned expert and the interval end fetches it back as a planned move, which
    /// overlaps compute in the model and so flatters the policy (it can then beat Belady's demand-only bound).
    /// </summary>
    public int TransientSlots { get; init; } = 1;

    /// <summary>
    /// An expert demoted from hot keeps its hot copy as a transient copy (evicted least recently used first when room is
    /// needed), as the tier store does; false drops it at once, as the store did before the transient-yield rule.
    /// </summary>
    public bool KeepDemotedCopies { get; init; } = true;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Latency);
        ArgumentNullException.ThrowIfNull(Guardrails);
        Latency.Validate();
        Guardrails.Validate();
        if (TransientSlots < 0) throw new ArgumentException($"ControllerReplayOptions.TransientSlots must be at least 0, was {TransientSlots}", nameof(TransientSlots));
    }
}

/// <summary>
/// The controllers' tier policy under replay, mapped onto the runtime's <see cref="ExpertTierStore"/>:
/// <list type="bullet">
/// <item>Every layer is one rank for the real <see cref="LatencyController"/> (its demand and allowance are kept per
/// rank), with a hot budget of (capacity − <see cref="ControllerReplayOptions.TransientSlots"/>) experts and a warm
/// budget that holds every expert of the layer (warm and cold misses cost the same in replay).</item>
/// <item>At every interval end the layer's <see cref="RankState"/> is its TierSet (the tiers the controller's admitted
/// moves assigned, not what happens to be resident) with each expert's uses in the interval (steps that needed it),
/// and <see cref="ObservedLatency.None"/>: the controller holds its whole hot allowance. Its plan passes the
/// guardrails through <see cref="GuardedPlan.Make"/>, the step the live <see cref="TierControlLoop"/> runs; the
/// admitted moves become the next TierSet.</item>
/// <item>Applying a TierSet, as the store does: experts no longer assigned hot keep their hot copy as a transient copy
/// (<see cref="ControllerReplayOptions.KeepDemotedCopies"/>), experts newly assigned hot are brought hot (a planned fetch, evicting transient copies least recently used first); an expert
/// already hot as a transient copy just becomes assigned.</item>
/// <item>The transient-yield rule (<see cref="LatencyControllerOptions.TransientYield"/>): the layer's hits on transient
/// copies and the slots they had go to the controller with each interval, which keeps an expert assigned hot only
/// while its demand beats what a slot of transient copies earns.</item>
/// <item>Between intervals, a miss brings the expert hot as a transient copy, evicting the least recently used
/// transient copy. Assigned experts are only displaced when every hot slot is assigned (a miss must still be
/// served); the next interval end restores them.</item>
/// </list>
/// </summary>
public sealed class ControllerReplayPolicy : ReplayPolicy
{
    static readonly DateTimeOffset Epoch = DateTimeOffset.UnixEpoch;

    readonly ControllerReplayOptions _options;
    LatencyController _controller = null!;
    Tier[] _assigned = [];
    long[] _last = [];
    long[] _transientHits = [];
    long _clock;
    long _hotBytes, _warmBytes;
    int _hotSlots;

    public ControllerReplayPolicy(ControllerReplayOptions? options = null)
    {
        _options = options ?? new ControllerReplayOptions();
        _options.Validate();
    }

    public override string Name => "Controller";

    /// <summary>Plans the controller made (one per layer and interval).</summary>
    public long Plans { get; private set; }

    /// <summary>Moves the controller proposed, before the guardrails.</summary>
    public long ProposedMoves { get; private set; }

    /// <summary>Moves the guardrails admitted and the policy applied to the TierSets.</summary>
    public long AppliedMoves { get; private set; }

    /// <summary>Moves the guardrails refused (hysteresis, change cap, budget).</summary>
    public long RefusedMoves { get; private set; }

    /// <summary>Experts each layer's TierSet assigns hot at most: the controller's hot budget in experts.</summary>
    public int HotBudgetExperts => _hotSlots;

    /// <summary>Experts the layer's current TierSet assigns hot.</summary>
    public int AssignedHot(int layer)
    {
        int n = 0;
        for (int e = 0; e < Experts; e++)
            if (_assigned[layer * Experts + e] == Tier.Hot) n++;
        return n;
    }

    /// <summary>Whether the layer's current TierSet assigns the expert hot.</summary>
    public bool IsAssignedHot(int layer, int expert) => _assigned[layer * Experts + expert] == Tier.Hot;

    public override void Start(ReplaySetup setup)
    {
        base.Start(setup);
        _controller = new LatencyController(_options.Latency);
        int cells = setup.Trace.Layers * setup.Trace.Experts;
        _assigned = new Tier[cells];
        Array.Fill(_assigned, Tier.Cold);
        _last = new long[cells];
        _transientHits = new long[setup.Trace.Layers];
        _clock = 0;
        // Byte sizes only scale the budgets; an unknown expert size counts in experts.
        _hotBytes = setup.ExpertBytes > 0 ? setup.ExpertBytes : 1;
        _warmBytes = _hotBytes;
        _hotSlots = Math.Max(0, setup.CapacityPerLayer - _options.TransientSlots);
        Plans = ProposedMoves = AppliedMoves = RefusedMoves = 0;
    }

    public override void Inserted(int layer, int expert, long time, InsertReason reason) => _last[layer * Experts + expert] = ++_clock;
    public override void Accessed(int layer, int expert, long time, bool hit)
    {
        _last[layer * Experts + expert] = ++_clock;
        // A hit on a copy the TierSet did not assign hot: what the tier store counts as a transient hit.
        if (hit && _assigned[layer * Experts + expert] != Tier.Hot) _transientHits[layer]++;
    }

    /// <summary>The least recently used transient copy; only when every candidate is assigned hot, the least recently used of those.</summary>
    public override int ChooseVictim(int layer, ReadOnlySpan<int> candidates, long time)
    {
        int victim = -1;
        foreach (int e in candidates)
            if (_assigned[layer * Experts + e] != Tier.Hot && (victim < 0 || _last[layer * Experts + e] < _last[layer * Experts + victim])) victim = e;
        if (victim >= 0) return victim;
        victim = candidates[0];
        foreach (int e in candidates)
            if (_last[layer * Experts + e] < _last[layer * Experts + victim]) victim = e;
        return victim;
    }

    public override void IntervalEnded(ReplayInterval interval, HotSetEditor hot)
    {
        DateTimeOffset at = Epoch.AddSeconds(interval.FirstStep + interval.Steps);
        var span = TimeSpan.FromSeconds(interval.Steps);
        var budgets = new TierBudgets(_hotSlots * _hotBytes, Experts * _warmBytes);
        for (int layer = 0; layer < interval.Layers; layer++)
        {
            var experts = new ExpertState[Experts];
            for (int e = 0; e < Experts; e++)
                experts[e] = new ExpertState(new ExpertKey(Setup.Trace.Model, layer, e), _assigned[layer * Experts + e], _hotBytes, _warmBytes,
                    interval.Accesses[layer * interval.Experts + e]);
            // The transient copies' room is every hot slot the TierSet did not assign, as the store's hot limit less the bytes assigned hot.
            var transient = new TransientUse(_transientHits[layer], (Setup.CapacityPerLayer - AssignedHot(layer)) * _hotBytes);
            _transientHits[layer] = 0;
            var rank = new RankState(layer, budgets, experts) { Transient = transient };
            var input = new ControlInput(at, span, rank, TierFetchStats.None, TierFetchStats.None, ObservedLatency.None);
            // The live loop's step: the controller's plan through the guardrails.
            (TierPlan plan, TierPlan admitted) = GuardedPlan.Make(_controller, input, _options.Guardrails);
            Plans++;
            ProposedMoves += plan.Moves.Count;
            AppliedMoves += admitted.Moves.Count;
            RefusedMoves += admitted.Decisions.Count(d => d.Outcome == DecisionOutcome.Refused);
            var demoted = new List<int>();
            foreach (TierMove move in admitted.Moves)
            {
                int cell = layer * Experts + move.Expert.Expert;
                if (_assigned[cell] != move.From) throw new InvalidOperationException($"the guardrails admitted a stale move {move.Describe()}");
                _assigned[cell] = move.To;
                if (move.From == Tier.Hot) demoted.Add(move.Expert.Expert);
            }
            ApplyTierSet(layer, demoted, hot);
        }
    }

    /// <summary>
    /// Drops the hot copies of experts the TierSet demoted unless they stay as transient copies, then brings the assigned
    /// ones hot, evicting transient copies LRU first.
    /// </summary>
    void ApplyTierSet(int layer, List<int> demoted, HotSetEditor hot)
    {
        if (!_options.KeepDemotedCopies)
            foreach (int e in demoted) hot.Demote(layer, e);
        for (int e = 0; e < Experts; e++)
        {
            if (_assigned[layer * Experts + e] != Tier.Hot || hot.IsHot(layer, e)) continue;
            if (hot.FreeSlots(layer) == 0)
            {
                int victim = -1;
                foreach (int t in hot.Hot(layer))
                    if (_assigned[layer * Experts + t] != Tier.Hot && (victim < 0 || _last[layer * Experts + t] < _last[layer * Experts + victim])) victim = t;
                if (victim < 0) break;
                hot.Demote(layer, victim);
            }
            hot.Promote(layer, e);
        }
    }
}
