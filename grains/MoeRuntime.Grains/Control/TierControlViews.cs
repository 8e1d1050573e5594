using MoeRuntime.Control.Loop;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Serving.Tiers;
using MoeRuntime.Telemetry.Collection;

namespace MoeRuntime.Grains.Control;

/// <summary>Translates between the TierSet grains' and the controller status' words and <see cref="TierControlLoop"/>'s.</summary>
public static class TierControlViews
{
    /// <summary>The loop's options from section <c>Moe:Control</c>, with memory prices from <c>Moe:Telemetry:Costs</c> where set there.</summary>
    public static TierControlLoopOptions LoopOptions(ControlOptions options, CostRates rates)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new()
        {
            Interval = options.Interval,
            Latency = options.Latency,
            Cost = options.CostController(rates),
            CostEnabled = options.Cost.Enabled,
            Guardrails = options.Guardrails(dryRun: false),
            TransientHeadroomExperts = options.TransientHeadroomExperts,
            BalanceEveryIntervals = options.BalanceEveryIntervals,
        };
    }

    /// <summary>A rank's control state as the loop reads it; <paramref name="pinned"/> are the pin writes made just before.</summary>
    public static RankReading Reading(TierControlState state, IReadOnlyList<ControlRecord> pinned)
    {
        ArgumentNullException.ThrowIfNull(state);
        var experts = state.Experts.Select(e => new ExpertHolding(ExpertKey.Parse(e.Expert), ControlRequests.Tier(e.Tier), e.HotBytes, e.WarmBytes)).ToList();
        TierStoreStats store = state.Store;
        var counters = new RankCounters(store.Hits, store.MissesFromWarm, store.MissesFromCold, store.FetchSecondsFromWarm, store.FetchSecondsFromCold,
            store.WarmFetchedBytes, store.ColdFetchedBytes, experts.Zip(state.Experts).ToDictionary(p => p.First.Key, p => p.Second.Uses),
            store.TransientHits);
        return new RankReading(state.View.Version, state.View.HotBudgetBytes, state.HotCeilingBytes, state.View.WarmBudgetBytes, experts, counters, pinned);
    }

    /// <summary>Writes <paramref name="write"/> as a new version of <paramref name="tierSet"/> (its hot limit, if any, stays under the rank's ceiling).</summary>
    /// <exception cref="TierWriteRefusedException">The TierSet refused it (stale version, budgets).</exception>
    public static async Task<long> WriteAsync(ITierSetGrain tierSet, TierSetWrite write)
    {
        ArgumentNullException.ThrowIfNull(tierSet);
        ArgumentNullException.ThrowIfNull(write);
        try
        {
            return (await tierSet.UpdateAsync(Update(write))).Version;
        }
        catch (MoeRequestException e)
        {
            throw new TierWriteRefusedException(e.Message, e);
        }
    }

    static TierSetUpdate Update(TierSetWrite write) => new()
    {
        Tiers = write.Tiers.ToDictionary(),
        HotBudgetBytes = write.HotLimitBytes,
        HotBudgetIsLimit = write.HotLimitBytes is not null,
        ChangedBy = write.ChangedBy,
        Reason = write.Reason,
        ExpectedVersion = write.ExpectedVersion,
    };

    public static RankControlStatus Status(RankControlReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return new()
        {
            Rank = report.Rank,
            TierSetVersion = report.TierSetVersion,
            HotAllowanceBytes = report.HotAllowanceBytes,
            HotAssignedBytes = report.HotAssignedBytes,
            HotBudgetBytes = report.HotBudgetBytes,
            HotLimitBytes = report.HotLimitBytes,
            WarmAssignedBytes = report.WarmAssignedBytes,
            WarmBudgetBytes = report.WarmBudgetBytes,
            HitRatio = report.HitRatio,
            IntervalDollars = report.IntervalDollars,
            DollarsPerThousandTokens = report.DollarsPerThousandTokens,
        };
    }
}
