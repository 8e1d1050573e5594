using MoeRuntime.Telemetry.Sketches;

namespace MoeRuntime.Telemetry.Tests;

public class ConcurrentSketchRecorderTests
{
    [Fact]
    public void ManyThreadsRecordAndEveryValueLandsInExactlyOneDelta()
    {
        const int threads = 4, perThread = 200_000;
        var recorder = new ConcurrentSketchRecorder(SketchLayout.Latency);
        var expected = new RelativeErrorSketch(SketchLayout.Latency);
        var samples = Enumerable.Range(0, threads)
            .Select(t => RelativeErrorSketchTests.Sample("lognormal", perThread, seed: 100 + t)).ToArray();
        foreach (var values in samples) foreach (var v in values) expected.Record(v);

        var collected = new RelativeErrorSketch(SketchLayout.Latency);
        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested) collected.Merge(recorder.TakeDelta());
        });
        collector.Start();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            foreach (var v in samples[t]) recorder.Record(v);
        });
        stop.Cancel();
        collector.Join();
        collected.Merge(recorder.TakeDelta());

        Assert.Equal(threads * perThread, collected.Count);
        Assert.True(expected.Buckets.SequenceEqual(collected.Buckets));
        Assert.Equal(expected.Min, collected.Min);
        Assert.Equal(expected.Max, collected.Max);
        Assert.Equal(expected.Sum, collected.Sum, 1e-9 * expected.Sum);
    }

    [Fact]
    public void ADeltaHoldsOnlyWhatCameAfterThePreviousOne()
    {
        var recorder = new ConcurrentSketchRecorder(SketchLayout.Latency);
        recorder.Record(0.1);
        recorder.Record(0.2);
        var first = recorder.TakeDelta();
        recorder.Record(5);
        var second = recorder.TakeDelta();
        var third = recorder.TakeDelta();

        Assert.Equal(2, first.Count);
        Assert.Equal(0.2, first.Max);
        Assert.Equal(1, second.Count);
        Assert.Equal(5, second.Min);
        Assert.Equal(0, third.Count);
        Assert.True(double.IsNaN(third.Quantile(0.5)));
    }

    [Fact]
    public void RecordingAllocatesNothing()
    {
        var recorder = new ConcurrentSketchRecorder(SketchLayout.Latency);
        recorder.Record(0.5); // JIT outside the measurement
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++) recorder.Record(i * 1e-4);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
