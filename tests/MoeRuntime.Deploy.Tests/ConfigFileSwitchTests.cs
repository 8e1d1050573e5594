using Microsoft.Extensions.Configuration;
using MoeRuntime.Silo;
using Xunit;

namespace MoeRuntime.Deploy.Tests;

/// <summary><c>moe-silo --config FILE</c>: a watched JSON file between appsettings.json and the environment and flags.</summary>
public sealed class ConfigFileSwitchTests
{
    [Theory]
    [InlineData(new[] { "--rank", "1", "--config", "/etc/moe/live.json" }, "/etc/moe/live.json")]
    [InlineData(new[] { "--config=/etc/moe/live.json" }, "/etc/moe/live.json")]
    [InlineData(new[] { "--rank", "1" }, null)]
    public void The_switch_names_the_file(string[] args, string? file) => Assert.Equal(file, SiloCommandLine.ConfigFile(args));

    [Fact]
    public void A_missing_value_or_file_is_named()
    {
        Assert.Contains("--config needs a file", Assert.Throws<ArgumentException>(() => SiloCommandLine.ConfigFile(["--config"])).Message, StringComparison.Ordinal);
        string missing = Path.Combine(Path.GetTempPath(), $"moe-no-such-{Guid.NewGuid():N}.json");
        Assert.Contains(missing, Assert.Throws<ArgumentException>(() => new ConfigurationBuilder().AddSiloSources(["--config", missing])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_file_is_read_and_the_command_line_wins_over_it()
    {
        string file = Path.Combine(Directory.CreateTempSubdirectory("moe-config-").FullName, "live.json");
        File.WriteAllText(file, """{ "Moe": { "MaxQueuedRequests": 7, "Rank": 5 } }""");
        IConfigurationRoot configuration = new ConfigurationBuilder().AddSiloSources(["--config", file, "--rank", "2"]).Build();
        Assert.Equal("7", configuration["Moe:MaxQueuedRequests"]);
        Assert.Equal("2", configuration["Moe:Rank"]);
    }
}
