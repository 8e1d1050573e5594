using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Model.Generation;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Grains.Tests;

/// <summary>A failed request is counted under the status, error type, severity and reject reason of what happened to it.</summary>
public sealed class RequestFailureLabelsTests
{
    [Theory]
    [InlineData(MoeErrorCode.InvalidRequest, "invalid_request", "info")]
    [InlineData(MoeErrorCode.UnknownModel, "model_not_found", "info")]
    [InlineData(MoeErrorCode.Cancelled, "cancelled", "info")]
    [InlineData(MoeErrorCode.ExpertFailure, "inference_error", "critical")]
    [InlineData(MoeErrorCode.IntegrityFailure, "integrity_error", "critical")]
    [InlineData(MoeErrorCode.Internal, "internal", "warning")]
    public void EachCodeHasItsErrorType(MoeErrorCode code, string errorType, string severity)
    {
        RequestFailureLabels labels = RequestFailureLabels.Of(code, new InvalidOperationException("x"), started: true, streamed: false);
        Assert.Equal(("error", errorType, severity, (string?)null), (labels.Status, labels.ErrorType, labels.Severity, labels.RejectReason));
    }

    [Fact]
    public void AFullQueueIsARejectionNotAnInternalError()
    {
        RequestFailureLabels labels = RequestFailureLabels.Of(MoeErrorCode.AdmissionRejected, new AdmissionRejectedException(4), started: false, streamed: false);
        Assert.Equal(("error", "rejected", "queue_full"), (labels.Status, labels.ErrorType, labels.RejectReason));
    }

    [Fact]
    public void ADrainingRankRejectsNewRequestsAsShuttingDownAndFailsRunningOnesWithoutAReject()
    {
        RequestFailureLabels refused = RequestFailureLabels.Of(MoeErrorCode.ShuttingDown, new ObjectDisposedException("b"), started: false, streamed: false);
        RequestFailureLabels stopped = RequestFailureLabels.Of(MoeErrorCode.ShuttingDown, new ObjectDisposedException("b"), started: true, streamed: true);
        Assert.Equal(("error", "shutting_down", "shutting_down"), (refused.Status, refused.ErrorType, refused.RejectReason));
        Assert.Equal(("partial", "shutting_down", (string?)null), (stopped.Status, stopped.ErrorType, stopped.RejectReason));
    }

    [Fact]
    public void AFailureAfterTheFirstTokenIsPartialButATimeoutStaysATimeout()
    {
        Assert.Equal("partial", RequestFailureLabels.Of(MoeErrorCode.ExpertFailure, null, started: true, streamed: true).Status);
        Assert.Equal("timeout", RequestFailureLabels.Of(MoeErrorCode.DeadlineExceeded, new TimeoutException(), started: true, streamed: true).Status);
        Assert.Equal("error", RequestFailureLabels.Of(MoeErrorCode.ExpertFailure, null, started: true, streamed: false).Status);
    }

    [Theory]
    [InlineData("[enforce fail at alloc_cpu.cpp:116] data. DefaultCPUAllocator: not enough memory: you tried to allocate 1073741824 bytes.", "oom")]
    [InlineData("CUDA out of memory. Tried to allocate 2.00 GiB", "oom")]
    [InlineData("CUDA error: an illegal memory access was encountered", "device_error")]
    [InlineData("cuDNN error: CUDNN_STATUS_EXECUTION_FAILED", "device_error")]
    [InlineData("mat1 and mat2 shapes cannot be multiplied (4x8 and 16x8)", "inference_error")]
    public void LibtorchFailuresAreToldApartByTheirMessage(string message, string errorType) =>
        Assert.Equal(errorType, RequestFailureLabels.Of(MoeErrorCode.ExpertFailure, new ExternalException(message), started: true, streamed: false).ErrorType);

    [Fact]
    public void AnOutOfMemoryInsideABatcherFaultIsOomAndCritical()
    {
        RequestFailureLabels labels = RequestFailureLabels.Of(MoeErrorCode.Internal, new BatcherFaultException(new OutOfMemoryException()), started: true, streamed: false);
        Assert.Equal(("oom", "critical"), (labels.ErrorType, labels.Severity));
    }

    [Fact]
    public void AFailingTokenizerIsATokenizationErrorAndItsMessageHasNoPrompt()
    {
        var failed = new TokenizationFailedException(new IndexOutOfRangeException("the secret prompt"));
        Assert.Equal("tokenization_error", RequestFailureLabels.Of(MoeErrorCode.Internal, failed, started: false, streamed: false).ErrorType);
        Assert.DoesNotContain("secret", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryLabelItProducesIsCatalogued()
    {
        var causes = new Exception?[] { null, new OutOfMemoryException(), new ExternalException("CUDA error"), new TokenizationFailedException(new FormatException()) };
        foreach (MoeErrorCode code in Enum.GetValues<MoeErrorCode>())
            foreach (Exception? cause in causes)
                foreach (bool started in new[] { false, true })
                    foreach (bool streamed in new[] { false, true })
                    {
                        RequestFailureLabels l = RequestFailureLabels.Of(code, cause, started, streamed);
                        Assert.Contains(l.Status, MetricLabels.Status.Values);
                        Assert.Contains(l.ErrorType, MetricLabels.ErrorType.Values);
                        Assert.Contains(l.Severity, MetricLabels.Severity.Values);
                        if (l.RejectReason is { } r) Assert.Contains(r, MetricLabels.RejectReason.Values);
                    }
    }

    [Fact]
    public void RankTelemetryCountsAFailureUnderItsLabelsAndARejectByRouteAndReason()
    {
        var collector = new RankCollector(new RankCollectorOptions { RankId = "0", Model = "default", Layers = 1, Experts = 1 });
        var telemetry = new RankTelemetry(collector, Options.Create(new TelemetryOptions()));
        telemetry.RequestFailed("generate", RequestFailureLabels.Of(MoeErrorCode.AdmissionRejected, null, false, false), started: false, midStream: false);
        telemetry.RequestFailed("stream", RequestFailureLabels.Of(MoeErrorCode.ShuttingDown, null, false, false), started: false, midStream: false);
        telemetry.RequestFailed("stream", RequestFailureLabels.Of(MoeErrorCode.ExpertFailure, new OutOfMemoryException(), true, true), started: true, midStream: true);
        telemetry.AdmissionRejected("stream", "over_limit");
        RankSummary summary = collector.CollectSummary();

        Dictionary<string, double> Deltas(MetricDefinition metric) => summary.Counters.Where(c => c.Metric == metric && c.Delta > 0)
            .ToDictionary(c => string.Join("/", c.Labels), c => c.Delta);
        Assert.Equal(new Dictionary<string, double> { ["generate/queue_full"] = 1, ["stream/shutting_down"] = 1, ["stream/over_limit"] = 1 },
            Deltas(MoeMetrics.AdmissionRejectsTotal));
        Assert.Equal(new Dictionary<string, double> { ["generate/error/rejected"] = 1, ["stream/error/shutting_down"] = 1, ["stream/partial/oom"] = 1 },
            Deltas(MoeMetrics.RequestsTotal));
        Assert.Equal(new Dictionary<string, double> { ["rejected/warning"] = 1, ["shutting_down/warning"] = 1, ["oom/critical"] = 1 },
            Deltas(MoeMetrics.ErrorsTotal));
    }

    [Fact]
    public void StartUpIsSplitIntoModelLoadAndCacheInit()
    {
        var collector = new RankCollector(new RankCollectorOptions { RankId = "0", Model = "default", Layers = 1, Experts = 1 });
        var telemetry = new RankTelemetry(collector, Options.Create(new TelemetryOptions()));
        telemetry.Started(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        var phases = collector.CollectSummary().Sketches.Where(s => s.Metric == MoeMetrics.StartupPhaseSeconds).Select(s => s.Labels[0]).Order(StringComparer.Ordinal);
        Assert.Equal(["cache_init", "model_load", "ready"], phases);
    }
}
