namespace MoeRuntime.Integration.Tests;

/// <summary>
/// A silo started with a configuration mistake says what is wrong in one line and exits with 2, before it joins anything;
/// one that cannot start (its model is missing) says why in one line and exits with 1.
/// </summary>
public sealed class SiloConfigurationTests
{
    [Fact]
    public async Task ASiloThatCannotStartSaysWhyInOneLineAndExitCodeOne()
    {
        string logs = Directory.CreateTempSubdirectory("moe-silo-start-").FullName;
        string missing = Path.Combine(logs, "no-model");
        try
        {
            int[] ports = FreePorts.Take(3);
            using var silo = ChildProcess.Start("silo", logs, Binaries.Dotnet,
                [Binaries.Silo, "--clustering", "localhost", "--rank", "0", "--model", missing, "--silo-port", $"{ports[0]}", "--primary-port", $"{ports[0]}",
                 "--gateway-port", $"{ports[1]}", "--http-port", $"{ports[2]}"]);
            Assert.True(await silo.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the silo kept running without a model");
            string[] lines = File.ReadAllLines(silo.StderrPath).Where(l => !l.StartsWith('{')).ToArray();
            Assert.True(silo.ExitCode == 1, $"exit {silo.ExitCode}: {string.Join('\n', lines)}");
            Assert.Equal($"moe-silo: could not start: {Path.Combine(missing, "config.json")}: model config not found", Assert.Single(lines));
        }
        finally
        {
            Directory.Delete(logs, recursive: true);
        }
    }

    [Theory]
    [InlineData("--Moe:Control:Latency:ShrinkStep=2", "moe-silo: Moe:Control:Latency:ShrinkStep must be a share (0, 1], was 2")]
    [InlineData("--Moe:HotBudgetBytes=abc", "moe-silo: Failed to convert configuration value 'abc' at 'Moe:HotBudgetBytes'")]
    [InlineData("--Moe:Balancing:Threshold=0.5", "moe-silo: Moe:Balancing:Threshold must be a finite number of at least 1, was 0.5")]
    [InlineData("--Moe:Telemetry:Interval=00:00:00", "moe-silo: Moe:Telemetry:Interval must be positive")]
    [InlineData("--Moe:Control:Prefetch:Interval=00:00:00", "moe-silo: Moe:Control:Prefetch:Interval must be positive")]
    [InlineData("--Moe:DrainTimeout=-00:00:05", "moe-silo: Moe:DrainTimeout must be positive")]
    [InlineData("--Moe:MaxQueuedRequests=0", "moe-silo: Moe:MaxQueuedRequests must be at least 1, was 0")]
    [InlineData("--Moe:Control:LatencyWindow=7s", "moe-silo: Failed to convert configuration value '7s' at 'Moe:Control:LatencyWindow'")]
    [InlineData("--Silo:Clustering=carrier-pigeon", "moe-silo: Silo:Clustering must be localhost or redis, was 'carrier-pigeon'")]
    [InlineData("--Telemetry:TraceSampleRatio=2", "moe-silo: Telemetry:TraceSampleRatio must be a share [0, 1], was 2")]
    [InlineData("--MaxTokens=0", "moe-silo: MaxTokens must be at least 1, was 0")]
    [InlineData("--Moe:FrontDoor:Tenants:0:Name=acme", "moe-silo: Moe:FrontDoor:Tenants:0:Keys needs at least one 'sha256:<64 hex digits>' key hash")]
    public async Task AMistakeInTheConfigurationIsOneLineAndExitCodeTwo(string setting, string message)
    {
        string logs = Directory.CreateTempSubdirectory("moe-silo-config-").FullName;
        try
        {
            using var silo = ChildProcess.Start("silo", logs, Binaries.Dotnet,
                [Binaries.Silo, "--clustering", "localhost", "--rank", "0", "--silo-port", "0", "--gateway-port", "0", "--http-port", "0", setting]);
            Assert.True(await silo.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"the silo kept running with {setting}");
            string stderr = File.ReadAllText(silo.StderrPath).Trim();
            Assert.True(silo.ExitCode == 2, $"exit {silo.ExitCode}: {stderr}");
            Assert.StartsWith(message, stderr);
            Assert.DoesNotContain('\n', stderr);
        }
        finally
        {
            Directory.Delete(logs, recursive: true);
        }
    }
}
