namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>The windows views are computed over; <see cref="TelemetryWindows"/> names and parses them.</summary>
[System.ComponentModel.TypeConverter(typeof(TelemetryWindowConverter))]
public enum TelemetryWindow
{
    /// <summary>The two newest ten-second slots (10–20 s): what a controller acting every few seconds reads.</summary>
    TwentySeconds,
    OneMinute,
    FiveMinutes,
    OneHour,
}

/// <summary>
/// Merged telemetry over the last twenty seconds, minute, five minutes and hour. Ten-second slots cover five minutes
/// and one-minute slots cover the hour, so memory stays bounded (90 slots) whatever the traffic, and
/// data older than an hour ages out as its slot is reused. A window is whole slots, the newest one
/// still filling, so it spans a little less than its nominal length: <see cref="Covered"/> says how much.
/// </summary>
/// <param name="horizon">
/// The longest window kept. Shard aggregators keep one minute per rank, so that a thousand ranks cost
/// them six slots each rather than ninety; the cluster aggregator keeps the hour.
/// </param>
public sealed class SlidingWindows(int layers, int experts, TelemetryWindow horizon = TelemetryWindow.OneHour)
{
    static readonly TimeSpan FineSlot = TimeSpan.FromSeconds(10), CoarseSlot = TimeSpan.FromMinutes(1);
    readonly Ring _fine = new(horizon == TelemetryWindow.OneMinute ? 6 : 30, FineSlot, layers, experts);
    readonly Ring? _coarse = horizon == TelemetryWindow.OneHour ? new(60, CoarseSlot, layers, experts) : null;

    public TelemetryWindow Horizon => horizon;

    /// <summary>Adds a summary to the slots of the instant it ended.</summary>
    /// <remarks>A summary older than a ring's span (a late delivery) only lands in the rings that still reach back to it.</remarks>
    public void Add(Summaries.RankSummary summary)
    {
        _fine.SlotFor(summary.IntervalEnd)?.Add(summary);
        _coarse?.SlotFor(summary.IntervalEnd)?.Add(summary);
    }

    public void Add(MergedSnapshot snapshot, DateTimeOffset at)
    {
        _fine.SlotFor(at)?.Add(snapshot);
        _coarse?.SlotFor(at)?.Add(snapshot);
    }

    /// <summary>Everything in <paramref name="window"/> up to <paramref name="now"/>, merged.</summary>
    /// <exception cref="ArgumentException">The window is longer than the horizon kept.</exception>
    public MergedSnapshot Query(TelemetryWindow window, DateTimeOffset now)
    {
        if (window > horizon) throw new ArgumentException($"these windows keep at most {ViewBuilder.Name(horizon)}, not {ViewBuilder.Name(window)}");
        return window switch
        {
            TelemetryWindow.TwentySeconds => _fine.Merge(now, 2, layers, experts),
            TelemetryWindow.OneMinute => _fine.Merge(now, 6, layers, experts),
            TelemetryWindow.FiveMinutes => _fine.Merge(now, 30, layers, experts),
            _ => _coarse!.Merge(now, 60, layers, experts),
        };
    }

    /// <summary>
    /// The time <see cref="Query"/> spans at <paramref name="now"/>: the window's older slots in full and
    /// the newest up to now. Rates divide by this; dividing by <see cref="Length"/> would understate
    /// them by up to one slot's share (a sixth for the minute window).
    /// </summary>
    public static TimeSpan Covered(TelemetryWindow window, DateTimeOffset now) => window switch
    {
        TelemetryWindow.TwentySeconds => Ring.Covered(FineSlot, 2, now),
        TelemetryWindow.OneMinute => Ring.Covered(FineSlot, 6, now),
        TelemetryWindow.FiveMinutes => Ring.Covered(FineSlot, 30, now),
        _ => Ring.Covered(CoarseSlot, 60, now),
    };

    public static TimeSpan Length(TelemetryWindow window) => window switch
    {
        TelemetryWindow.TwentySeconds => TimeSpan.FromSeconds(20),
        TelemetryWindow.OneMinute => TimeSpan.FromMinutes(1),
        TelemetryWindow.FiveMinutes => TimeSpan.FromMinutes(5),
        _ => TimeSpan.FromHours(1),
    };

    sealed class Ring(int count, TimeSpan width, int layers, int experts)
    {
        readonly MergedSnapshot?[] _slots = new MergedSnapshot?[count];
        readonly long[] _epochs = new long[count];

        long Epoch(DateTimeOffset at) => at.UtcTicks / width.Ticks;

        public static TimeSpan Covered(TimeSpan width, int slots, DateTimeOffset now) =>
            width * (slots - 1) + TimeSpan.FromTicks(now.UtcTicks % width.Ticks);

        /// <summary>The slot of <paramref name="at"/>; null when a newer slot has taken its place, so late data never wipes newer data.</summary>
        public MergedSnapshot? SlotFor(DateTimeOffset at)
        {
            long epoch = Epoch(at);
            int index = (int)(epoch % count);
            if (_slots[index] is not null && _epochs[index] > epoch) return null;
            if (_slots[index] is null || _epochs[index] != epoch)
            {
                _slots[index] = new MergedSnapshot(layers, experts);
                _epochs[index] = epoch;
            }
            return _slots[index]!;
        }

        public MergedSnapshot Merge(DateTimeOffset now, int slots, int layers, int experts)
        {
            var merged = new MergedSnapshot(layers, experts);
            long newest = Epoch(now);
            for (int i = 0; i < count; i++)
                if (_slots[i] is { } slot && _epochs[i] > newest - slots && _epochs[i] <= newest) merged.Add(slot);
            return merged;
        }
    }
}
