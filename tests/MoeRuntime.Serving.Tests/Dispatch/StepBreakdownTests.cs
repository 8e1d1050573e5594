using MoeRuntime.Serving.Dispatch;

namespace MoeRuntime.Serving.Tests.Dispatch;

public class StepBreakdownTests
{
    static long[] Split(DispatchTimestamps timestamps)
    {
        var phases = new long[StepBreakdown.PhaseCount];
        timestamps.Split(phases);
        return phases;
    }

    [Fact]
    public void ADispatchOnOneClockSplitsAtTheExpertsStartAndAddsUpToItsWallTime()
    {
        // Started 1000, payloads sent at 1100, the expert began at 1150 and worked 10 + 50 + 5, the call answered at 1260,
        // every call had settled at 1280, the answers were combined at 1300.
        long[] phases = Split(new DispatchTimestamps(1000, 1100, 1260, 1150, 10, 50, 5, 1280, 1300));
        Assert.Equal(100, phases[(int)StepPhase.Serialise]);
        Assert.Equal(50, phases[(int)StepPhase.Send]);
        Assert.Equal(10, phases[(int)StepPhase.RemoteDecode]);
        Assert.Equal(50, phases[(int)StepPhase.RemoteCompute]);
        Assert.Equal(5, phases[(int)StepPhase.RemoteEncode]);
        Assert.Equal(45, phases[(int)StepPhase.Return]);
        Assert.Equal(20, phases[(int)StepPhase.Join]);
        Assert.Equal(20, phases[(int)StepPhase.Combine]);
        Assert.Equal(0, phases[(int)StepPhase.Attention]);
        Assert.Equal(300, phases.Sum());
    }

    [Fact]
    public void AnExpertOnAnotherClockPutsTheWholeTransitInSend()
    {
        long[] phases = Split(new DispatchTimestamps(1000, 1100, 1260, 987_654_321, 10, 50, 5, 1280, 1300));
        Assert.Equal(95, phases[(int)StepPhase.Send]);
        Assert.Equal(0, phases[(int)StepPhase.Return]);
        Assert.Equal(300, phases.Sum());
    }

    [Fact]
    public void RemoteWorkLongerThanItsCallIsScaledToTheCall()
    {
        long[] phases = Split(new DispatchTimestamps(0, 0, 100, 0, 100, 200, 100, 100, 100));
        Assert.Equal(25, phases[(int)StepPhase.RemoteDecode]);
        Assert.Equal(50, phases[(int)StepPhase.RemoteCompute]);
        Assert.Equal(25, phases[(int)StepPhase.RemoteEncode]);
        Assert.Equal(0, phases[(int)StepPhase.Send] + phases[(int)StepPhase.Return]);
        Assert.All(phases, p => Assert.True(p >= 0));
    }

    [Fact]
    public void AnAnswerWithoutTimingCountsAsTransit()
    {
        long[] phases = Split(new DispatchTimestamps(0, 10, 70, 0, 0, 0, 0, 80, 90));
        Assert.Equal(60, phases[(int)StepPhase.Send] + phases[(int)StepPhase.Return]);
        Assert.Equal(0, phases[(int)StepPhase.RemoteCompute]);
        Assert.Equal(90, phases.Sum());
    }

    [Fact]
    public void SplitNeedsRoomForEveryPhase()
    {
        var e = Assert.Throws<ArgumentException>(() => new DispatchTimestamps(0, 0, 0, 0, 0, 0, 0, 0, 0).Split(new long[3]));
        Assert.Contains("10 phases", e.Message);
    }

    [Fact]
    public void TheBreakdownAccumulatesPerLayerAndPhase()
    {
        var breakdown = new StepBreakdown(layers: 2);
        breakdown.Add(1, StepPhase.Attention, System.Diagnostics.Stopwatch.Frequency);
        breakdown.Add(1, StepPhase.Attention, System.Diagnostics.Stopwatch.Frequency);
        long ms = System.Diagnostics.Stopwatch.Frequency / 1000;
        long[] phases = Split(new DispatchTimestamps(0, 10 * ms, 70 * ms, 20 * ms, 0, 30 * ms, 0, 80 * ms, 90 * ms));
        breakdown.AddDispatch(0, phases);
        breakdown.AddDispatch(0, phases);

        Assert.Equal(TimeSpan.FromSeconds(2), breakdown.Total(1, StepPhase.Attention));
        Assert.Equal(TimeSpan.Zero, breakdown.Total(0, StepPhase.Attention));
        Assert.Equal(2, breakdown.Dispatches(0));
        Assert.Equal(0, breakdown.Dispatches(1));
        Assert.Equal(60, breakdown.Total(0, StepPhase.RemoteCompute).TotalMilliseconds, 3);
        Assert.Equal(20, breakdown.Total(0, StepPhase.Send).TotalMilliseconds, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => breakdown.Add(2, StepPhase.Gate, 1));
    }

    [Fact]
    public void EveryPhaseHasALabel()
    {
        Assert.Equal(StepBreakdown.PhaseCount, StepBreakdown.PhaseNames.Count);
        Assert.Equal("remote_compute", StepBreakdown.PhaseNames[(int)StepPhase.RemoteCompute]);
        Assert.Equal(StepBreakdown.PhaseNames.Count, StepBreakdown.PhaseNames.Distinct().Count());
    }
}
