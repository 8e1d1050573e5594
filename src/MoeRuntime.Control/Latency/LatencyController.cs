using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Latency;

/// <summary>
/// Keeps the p95 latency targets by holding the experts whose misses would cost the most time in the hot tier, the
/// next in warm, and the rest cold. Per rank it remembers each expert's decayed demand and its hot allowance: the
/// share of the hot budget it uses, grown while latency is over target and given back while every target holds with
/// margin. Without latency measurements the allowance holds, so a rank never measured (replay of routing traces)
/// uses its whole hot budget. An interval in which the rank called no expert (<see cref="RankState.Idle"/>) moves
/// nothing and leaves demand as it was; with a <see cref="IPromotionFloor"/> (the cost controller, in the loop) it
/// promotes no expert into a tier the floor would demote it from.
/// State is plain data per rank and rebuilds itself within a few demand half-lives after a restart.
/// </summary>
public sealed class LatencyController : ITierController
{
    LatencyControllerOptions _options;
    readonly RankDemand _demand;
    readonly Dictionary<int, long> _allowance = [];
    readonly Dictionary<int, double> _transientYield = [];
    readonly double _retained;
    readonly IPromotionFloor? _floor;

    /// <param name="floor">What a promotion must clear besides the ranking (the cost controller's break-even); null none.</param>
    /// <exception cref="ArgumentException">The options are out of range.</exception>
    public LatencyController(LatencyControllerOptions options, IPromotionFloor? floor = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _floor = floor;
        _demand = new RankDemand(options.DemandHalfLifeIntervals);
        _retained = Math.Pow(0.5, 1 / options.DemandHalfLifeIntervals);
    }

    public string Name => "latency";

    /// <summary>
    /// The half-life demand decays at from the next interval: <see cref="LatencyControllerOptions.DemandHalfLifeIntervals"/> unless
    /// the loop shortened it (routing drift, <see cref="UseDemandHalfLife"/>).
    /// </summary>
    public double DemandHalfLifeIntervals => _demand.HalfLifeIntervals;

    /// <summary>Decays demand at <paramref name="halfLifeIntervals"/> from the next interval, keeping the demand learnt.</summary>
    /// <exception cref="ArgumentException">The half-life is not a positive finite number of intervals.</exception>
    public void UseDemandHalfLife(double halfLifeIntervals) => _demand.UseHalfLife(halfLifeIntervals);

    /// <summary>
    /// Takes new targets, steps and bounds from the next plan on, keeping the demand and hot allowances it has learnt
    /// (a configuration reload).
    /// </summary>
    /// <exception cref="ArgumentException">The options are out of range, or change the demand's half-life, which needs a new controller.</exception>
    public void Reconfigure(LatencyControllerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.DemandHalfLifeIntervals != _options.DemandHalfLifeIntervals)
            throw new ArgumentException($"LatencyControllerOptions.DemandHalfLifeIntervals cannot change on a running controller ({_options.DemandHalfLifeIntervals} → {options.DemandHalfLifeIntervals})", nameof(options));
        _options = options;
    }

    /// <summary>The hot bytes the controller lets the rank use (at most its hot budget); null before its first interval.</summary>
    public long? HotAllowance(int rank) => _allowance.TryGetValue(rank, out long bytes) ? bytes : null;

    /// <summary>
    /// Hits per interval a hot byte of the rank's transient copies earns, decayed like demand; null before the rank
    /// reported any transient room (or with the transient-yield rule off).
    /// </summary>
    public double? TransientYieldPerByte(int rank) => _transientYield.TryGetValue(rank, out double y) ? y : null;

    /// <summary>Folds the interval's uses into the rank's demand, then plans the moves towards the cheapest assignment.</summary>
    public TierPlan Plan(ControlInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        RankState rank = input.Rank;
        // An idle interval teaches demand nothing: it is neither folded in nor acted on (moves would only follow the decay).
        bool idle = rank.Idle;
        DemandTracker demand = _demand.Observe(rank, fold: !idle);

        double? pressure = LatencyPressure.Of(input.Latency, _options);
        long hotUsed = rank.BytesUsed(Tier.Hot), hotBudget = rank.Budgets.HotBytes;
        long allowance = LatencyPressure.NextAllowance(_allowance.GetValueOrDefault(rank.Rank, hotBudget), hotUsed, hotBudget, pressure, _options);
        _allowance[rank.Rank] = allowance;

        double warmSeconds = _options.FetchPriors.Seconds(Tier.Warm, input.WarmFetch);
        double coldSeconds = _options.FetchPriors.Seconds(Tier.Cold, input.ColdFetch);
        double? yieldPerByte = ObserveTransient(rank) * _options.TransientYieldWeight;
        Func<ExpertState, Tier, bool>? admits = _floor is { } floor ? (e, to) => floor.Admits(e, to, demand.Of(e.Key), input) : null;
        Dictionary<ExpertKey, Tier> target = idle
            ? rank.Experts.ToDictionary(e => e.Key, e => e.Tier)
            : TierRanking.Assign(rank.Experts, demand, allowance, rank.Budgets.WarmBytes, _options.MinDemand, yieldPerByte ?? 0, admits);
        bool givingBack = LatencyPressure.HoldsWithMargin(pressure, _options) && allowance < hotUsed;

        var ranked = new List<(TierMove Move, double PerByte)>();
        foreach (ExpertState expert in rank.Experts)
        {
            Tier to = target[expert.Key];
            if (to == expert.Tier) continue;
            double uses = demand.Of(expert.Key);
            double missSeconds = expert.Tier == Tier.Warm ? warmSeconds : coldSeconds;
            string reason = to < expert.Tier
                ? $"demand {uses:F2} uses/interval, each {TierNames.Of(expert.Tier)} miss costs {missSeconds * 1e3:F1} ms"
                : expert.Tier == Tier.Hot && givingBack ? $"latency holds with margin: giving hot memory back (demand {uses:F2} uses/interval)"
                : uses < _options.MinDemand || uses == 0 ? $"idle: demand {uses:F3} uses/interval"
                : expert.Tier == Tier.Hot && yieldPerByte is { } y && uses / expert.HotBytes <= y
                    ? $"transient copies earn more: demand {uses:F2} uses/interval, a slot of transient copies {y * expert.HotBytes:F2} hits/interval"
                : $"outranked by demand per byte (demand {uses:F2} uses/interval)";
            var move = new TierMove(expert.Key, expert.Tier, to, uses * coldSeconds, reason);
            ranked.Add((move, move.Value / expert.Bytes(move.IsPromotion ? to : expert.Tier)));
        }
        // Promotions first, into hot before warm, most time saved per byte first; then demotions, least valuable first.
        var moves = ranked.OrderByDescending(m => m.Move.IsPromotion)
            .ThenBy(m => m.Move.IsPromotion ? m.Move.To : Tier.Hot)
            .ThenBy(m => m.Move.IsPromotion ? -m.PerByte : m.PerByte)
            .Select(m => m.Move).ToList();

        var inputs = new Dictionary<string, double>
        {
            ["hot_allowance_bytes"] = allowance,
            ["hot_used_bytes"] = hotUsed,
            ["hot_budget_bytes"] = hotBudget,
            ["warm_miss_s"] = warmSeconds,
            ["cold_miss_s"] = coldSeconds,
            ["promotions"] = moves.Count(m => m.IsPromotion),
            ["demotions"] = moves.Count(m => !m.IsPromotion),
        };
        if (yieldPerByte is { } perByte) inputs["transient_hits_per_mib"] = perByte * 1048576;
        if (pressure is { } p) inputs["pressure"] = p;
        if (input.Latency.P95InterTokenSeconds is { } itl) inputs["p95_itl_s"] = itl;
        if (input.Latency.P95TimeToFirstTokenSeconds is { } ttft) inputs["p95_ttft_s"] = ttft;

        double? sampleRatio = LatencyPressure.SampleRatio(input.TelemetrySampleRatio, pressure, _options);
        string change = $"hot allowance {allowance} of {hotBudget} bytes; {inputs["promotions"]} promotions, {inputs["demotions"]} demotions"
            + (sampleRatio is { } r ? $"; telemetry sampling {input.TelemetrySampleRatio:G3} → {r:G3}" : "");
        if (idle) inputs["idle"] = 1;
        string why = idle ? "no expert called this interval: demand learnt nothing, TierSet held" : pressure switch
        {
            null => "no latency measured: holding the hot allowance",
            > 1 => $"latency at {pressure:P0} of target: taking more hot memory",
            _ when LatencyPressure.HoldsWithMargin(pressure, _options) => $"latency at {pressure:P0} of target, under the {_options.GiveBackMargin:P0} margin: giving hot memory back",
            _ => $"latency at {pressure:P0} of target: holding the allowance",
        };
        var decision = new ControlDecision(input.At, Name, rank.Rank, inputs, change, why, DecisionOutcome.Proposed);
        return new TierPlan(Name, rank.Rank, input.At, moves, [decision], sampleRatio);
    }

    /// <summary>
    /// Folds the interval's transient hits per hot byte into the rank's transient yield (as demand is decayed) and returns
    /// it; an interval without transient room leaves it as it was. Null when the rule is off or nothing was measured yet.
    /// </summary>
    double? ObserveTransient(RankState rank)
    {
        if (!_options.TransientYield) return null;
        bool known = _transientYield.TryGetValue(rank.Rank, out double current);
        if (rank.Transient?.HitsPerByte is not { } observed) return known ? current : null;
        double next = _retained * current + (1 - _retained) * observed;
        _transientYield[rank.Rank] = next;
        return next;
    }
}
