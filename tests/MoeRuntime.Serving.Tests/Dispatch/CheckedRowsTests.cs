using MoeRuntime.Model.Layers;
using MoeRuntime.Serving.Dispatch;
using static TorchSharp.torch;

namespace MoeRuntime.Serving.Tests.Dispatch;

public class CheckedRowsTests
{
    // Five rows: request 10 at positions 0..2, request 20 at positions 4 and 5.
    static readonly DispatchRows Rows = new([10, 10, 10, 20, 20], [0, 1, 2, 4, 5]);

    [Fact]
    public void RowsAtMultiplesOfTheIntervalAreSampled()
    {
        Assert.Equal([true, false, true, true, false], CheckedRows.Sample(Rows, 2)!);
        Assert.Equal([true, false, false, false, false], CheckedRows.Sample(Rows, 3)!);
        Assert.Null(CheckedRows.Sample(new DispatchRows([1], [3]), 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => CheckedRows.Sample(Rows, 0));
    }

    [Fact]
    public void AnExpertChecksItsSampledTokensByTheirRowInItsPayload()
    {
        bool[] sampled = [true, false, true, true, false];
        CheckedRows? rows = CheckedRows.Of([1, 2, 4, 3], sampled, Rows);
        Assert.NotNull(rows);
        Assert.Equal([1, 3], rows.Rows);
        Assert.Equal([10UL, 20UL], rows.Requests);
        Assert.Equal([2L, 4L], rows.Positions);
        Assert.Null(CheckedRows.Of([1, 4], sampled, Rows));
    }

    [Fact]
    public void APlansExpertsGetTheirSampledRowsInPlanOrder()
    {
        // Top-2 of five tokens over three experts: expert 0 takes tokens 0, 1, 3; expert 1 tokens 0, 2, 4; expert 2 tokens 1..4.
        using Tensor experts = tensor(new long[] { 0, 1, 2, 0, 1, 2, 0, 2, 2, 1 }, [5, 2]);
        using Tensor weights = full([5, 2], 0.5f);
        using RoutingPlan plan = RoutingPlan.Build(experts, weights, 3);
        bool[] sampled = [true, false, true, true, false];
        CheckedRows?[] checks = CheckedRows.ForExperts(plan, [0, 1, 2], sampled, Rows);
        Assert.Equal([0, 2], checks[0]!.Rows);
        Assert.Equal([0L, 4L], checks[0]!.Positions);
        Assert.Equal([0, 1], checks[1]!.Rows);
        Assert.Equal([1, 2], checks[2]!.Rows);
        Assert.Equal([2L, 4L], checks[2]!.Positions);
        Assert.Throws<ArgumentException>(() => CheckedRows.ForExperts(plan, [0], [true], Rows));
    }

    [Fact]
    public void AChunkKeepsItsOwnRowsRenumberedFromItsFirst()
    {
        var rows = new CheckedRows([0, 3, 4, 6], [1, 2, 3, 4], [10, 11, 12, 13]);
        CheckedRows? chunk = rows.Slice(3, 3);
        Assert.NotNull(chunk);
        Assert.Equal([0, 1], chunk.Rows);
        Assert.Equal([2UL, 3UL], chunk.Requests);
        Assert.Equal([11L, 12L], chunk.Positions);
        Assert.Null(rows.Slice(1, 2));
        Assert.Equal([0], rows.Slice(6, 1)!.Rows);
    }
}
