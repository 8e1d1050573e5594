using Microsoft.Extensions.Logging;
using TorchSharp;

namespace MoeRuntime.Model.Tests;

public class ComputeDevicesTests
{
    sealed class RecordingLogger : ILogger
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception)));
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData(" CPU ")]
    [InlineData("")]
    public void CpuSpellingsGiveTheCpu(string option) =>
        Assert.Equal(DeviceType.CPU, ComputeDevices.Resolve(option, new RecordingLogger()).type);

    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:3")]
    public void CudaWithoutCudaFallsBackToTheCpuWithAWarning(string option)
    {
        if (torch.cuda.is_available()) return; // a CUDA build on a GPU host legitimately honours the request
        var logger = new RecordingLogger();
        Assert.Equal(DeviceType.CPU, ComputeDevices.Resolve(option, logger).type);
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains(option));
    }

    [Theory]
    [InlineData("tpu")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    public void UnknownDevicesAreRefused(string option) =>
        Assert.Throws<ArgumentException>(() => ComputeDevices.Resolve(option, new RecordingLogger()));
}
