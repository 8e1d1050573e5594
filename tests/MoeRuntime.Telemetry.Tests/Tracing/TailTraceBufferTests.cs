using MoeRuntime.Telemetry.Tracing;

namespace MoeRuntime.Telemetry.Tests.Tracing;

public class TailTraceBufferTests
{
    [Fact]
    public void AKeptRequestGivesBackItsSpansInOrderAndADiscardedOneNone()
    {
        var buffer = new TailTraceBuffer<int, string>(maxTraces: 4, maxSpansPerTrace: 8);
        Assert.Equal(TailSpanFate.Buffered, buffer.Add(1, "a"));
        buffer.Add(1, "b");
        buffer.Add(2, "c");

        Assert.Equal(["a", "b"], buffer.Decide(1, keep: true));
        Assert.Empty(buffer.Decide(2, keep: false));
        Assert.Equal((1L, 1L, 0), (buffer.KeptTraces, buffer.DiscardedTraces, buffer.BufferedTraces));
        // Spans ending after their request follow its decision.
        Assert.Equal(TailSpanFate.Keep, buffer.Add(1, "late"));
        Assert.Equal(TailSpanFate.Drop, buffer.Add(2, "late"));
    }

    [Fact]
    public void MemoryIsBoundedAndEveryDropIsCounted()
    {
        var buffer = new TailTraceBuffer<int, int>(maxTraces: 3, maxSpansPerTrace: 2);
        for (int span = 0; span < 5; span++) buffer.Add(0, span);
        Assert.Equal(3, buffer.DroppedSpans);

        buffer.Add(1, 0);
        buffer.Add(2, 0);
        buffer.Add(3, 0); // full: request 0, the oldest, makes room with its two spans
        Assert.Equal((5L, 3), (buffer.DroppedSpans, buffer.BufferedTraces));
        Assert.Empty(buffer.Decide(0, keep: true));

        // Decisions are remembered for the last maxTraces requests only.
        for (int trace = 10; trace < 20; trace++) buffer.Decide(trace, keep: true);
        Assert.Equal(TailSpanFate.Buffered, buffer.Add(10, 0));
    }
}
