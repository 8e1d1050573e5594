using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Cost;

/// <summary>
/// Demotes experts whose memory costs more than the misses they save. For each hot or warm expert it compares, per
/// interval, the tier's keep cost plus the expected miss cost there (expected uses × the dollars of one fetch from
/// that tier, priced from the observed bytes per fetch and fetch latency) with the same sum in each lower tier, and
/// moves the expert down when a lower tier is cheaper by the demote margin. It never promotes: that is the latency
/// controller's job, and it answers the latency controller which promotions it would undo (<see cref="Admits"/>).
/// An interval in which the rank called no expert (<see cref="RankState.Idle"/>) moves nothing. It also reports what
/// the interval cost per 1k tokens.
/// </summary>
public sealed class CostController : ITierController, IPromotionFloor
{
    CostControllerOptions _options;
    readonly RankDemand _demand;

    /// <exception cref="ArgumentException">The options are out of range.</exception>
    public CostController(CostControllerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _demand = new RankDemand(options.DemandHalfLifeIntervals);
    }

    public string Name => "cost";

    /// <summary>
    /// The half-life demand decays at from the next interval: <see cref="CostControllerOptions.DemandHalfLifeIntervals"/> unless
    /// the loop shortened it (routing drift, <see cref="UseDemandHalfLife"/>).
    /// </summary>
    public double DemandHalfLifeIntervals => _demand.HalfLifeIntervals;

    /// <summary>Decays demand at <paramref name="halfLifeIntervals"/> from the next interval, keeping the demand learnt.</summary>
    /// <exception cref="ArgumentException">The half-life is not a positive finite number of intervals.</exception>
    public void UseDemandHalfLife(double halfLifeIntervals) => _demand.UseHalfLife(halfLifeIntervals);

    /// <summary>
    /// Takes new prices and margin from the next plan on, keeping the demand it has learnt (a configuration reload).
    /// </summary>
    /// <exception cref="ArgumentException">The options are out of range, or change the demand's half-life, which needs a new controller.</exception>
    public void Reconfigure(CostControllerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.DemandHalfLifeIntervals != _options.DemandHalfLifeIntervals)
            throw new ArgumentException($"CostControllerOptions.DemandHalfLifeIntervals cannot change on a running controller ({_options.DemandHalfLifeIntervals} → {options.DemandHalfLifeIntervals})", nameof(options));
        _options = options;
    }

    /// <summary>What the rank's interval cost: its hot and warm bytes held, the bytes fetched from warm and cold, its tokens.</summary>
    public CostReport Report(ControlInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return _options.Model.Report(input.Rank.BytesUsed(Tier.Hot), input.Rank.BytesUsed(Tier.Warm), input.Interval,
            input.WarmFetch.FetchedBytes + input.ColdFetch.FetchedBytes, input.Tokens);
    }

    /// <summary>Folds the interval's uses into the rank's demand, then plans the demotions that save money.</summary>
    public TierPlan Plan(ControlInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        RankState rank = input.Rank;
        // An idle interval teaches demand nothing: it is neither folded in nor acted on.
        DemandTracker demand = _demand.Observe(rank, fold: !rank.Idle);

        var moves = new List<TierMove>();
        long warmRoom = rank.Budgets.WarmBytes - rank.BytesUsed(Tier.Warm);
        // Warm experts first: demoting them to cold frees warm room for hot experts worth keeping warm.
        foreach (ExpertState expert in rank.Experts.Where(e => e.Pinned is null).OrderByDescending(e => e.Tier))
        {
            if (expert.Tier == Tier.Cold || rank.Idle) continue;
            double uses = demand.Of(expert.Key);
            if (Cheaper(expert, uses, input, warmRoom) is not { } cheaper) continue;
            var (to, bestTotal) = cheaper;
            if (expert.Tier == Tier.Warm) warmRoom += expert.WarmBytes;
            if (to == Tier.Warm) warmRoom -= expert.WarmBytes;
            double keep = _options.Model.KeepDollars(expert.Tier, expert.Bytes(expert.Tier), input.Interval);
            double missesThere = uses * FetchDollars(expert, to, input);
            moves.Add(new TierMove(expert.Key, expert.Tier, to, missesThere,
                $"keeping it {TierNames.Of(expert.Tier)} costs ${keep:G3}/interval, more than ${bestTotal:G3} in {TierNames.Of(to)} with {uses:F2} expected uses × ${FetchDollars(expert, to, input):G3} per miss"));
        }

        CostReport report = Report(input);
        var inputs = new Dictionary<string, double>
        {
            ["hot_dollars"] = report.HotDollars,
            ["warm_dollars"] = report.WarmDollars,
            ["fetch_dollars"] = report.FetchDollars,
            ["tokens"] = report.Tokens,
            ["demotions"] = moves.Count,
        };
        if (report.DollarsPerThousandTokens is { } perThousand) inputs["dollars_per_1k_tokens"] = perThousand;
        var decision = new ControlDecision(input.At, Name, rank.Rank, inputs, $"{moves.Count} demotions",
            (report.DollarsPerThousandTokens is { } p ? $"interval cost ${report.TotalDollars:G3}, ${p:G3} per 1k tokens" : $"interval cost ${report.TotalDollars:G3}, no tokens served")
                + (rank.Idle ? "; no expert called: TierSet held" : ""),
            DecisionOutcome.Proposed);
        return new TierPlan(Name, rank.Rank, input.At, moves, [decision]);
    }

    /// <summary>
    /// True unless the expert, once in <paramref name="to"/>, would be demoted by this controller at
    /// <paramref name="uses"/> less the demote margin: promotions must clear the break-even by the same margin demotions
    /// fall under it, so demand near it moves an expert neither way.
    /// </summary>
    public bool Admits(ExpertState expert, Tier to, double uses, ControlInput input)
    {
        ArgumentNullException.ThrowIfNull(expert);
        ArgumentNullException.ThrowIfNull(input);
        if (to == Tier.Cold || to >= expert.Tier) return true;
        RankState rank = input.Rank;
        long warmRoom = rank.Budgets.WarmBytes - rank.BytesUsed(Tier.Warm) + (expert.Tier == Tier.Warm ? expert.WarmBytes : 0);
        return Cheaper(expert with { Tier = to }, uses / (1 + _options.DemoteMargin), input, warmRoom) is null;
    }

    /// <summary>
    /// The lower tier that costs least with the expert's expected misses, when it is cheaper than where the expert is by
    /// the demote margin (warm only if it has room); null when the expert pays for its tier.
    /// </summary>
    (Tier To, double Total)? Cheaper(ExpertState expert, double uses, ControlInput input, long warmRoom)
    {
        double here = Total(expert, expert.Tier, uses, input);
        (Tier, double)? best = null;
        double bestTotal = here;
        for (Tier lower = expert.Tier + 1; lower <= Tier.Cold; lower++)
        {
            if (lower == Tier.Warm && expert.WarmBytes > warmRoom) continue;
            double total = Total(expert, lower, uses, input);
            if (total * (1 + _options.DemoteMargin) < here && total < bestTotal)
                (best, bestTotal) = ((lower, total), total);
        }
        return best;
    }

    /// <summary>Dollars per interval of holding the expert in <paramref name="tier"/> and serving its expected misses from there.</summary>
    double Total(ExpertState expert, Tier tier, double uses, ControlInput input) =>
        _options.Model.KeepDollars(tier, expert.Bytes(tier), input.Interval) + uses * FetchDollars(expert, tier, input);

    /// <summary>One miss on <paramref name="tier"/>: the observed bytes per fetch (else the expert's checkpoint bytes) and its latency.</summary>
    double FetchDollars(ExpertState expert, Tier tier, ControlInput input)
    {
        if (tier == Tier.Hot) return 0;
        TierFetchStats observed = input.Fetch(tier);
        return _options.Model.FetchDollars(observed.BytesPerFetch ?? expert.WarmBytes, _options.FetchPriors.Seconds(tier, observed));
    }
}
