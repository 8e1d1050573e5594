using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;

namespace MoeRuntime.Telemetry.Tests;

public class BuildVersionTests
{
    [Theory]
    [InlineData("1.0.0+d28984d6833209d7623aeb5af1e816e124d5a4c4", "1.0.0", "d28984d6833209d7623aeb5af1e816e124d5a4c4")]
    [InlineData("2.1.0-preview.3+abc123", "2.1.0-preview.3", "abc123")]
    [InlineData("1.0.0", "1.0.0", "unknown")]
    [InlineData("1.0.0+", "1.0.0", "unknown")]
    [InlineData("+abc123", "unknown", "abc123")]
    [InlineData("", "unknown", "unknown")]
    [InlineData(null, "unknown", "unknown")]
    public void SplitsTheInformationalVersionIntoVersionAndCommit(string? informational, string version, string commit) =>
        Assert.Equal((version, commit), BuildVersion.Parse(informational));

    [Fact]
    public void ALongerRevisionIsCutToFortyCharacters()
    {
        string sha256 = new('a', 64);
        Assert.Equal(new string('a', 40), BuildVersion.Parse("1.0.0+" + sha256).Commit);
    }

    [Fact]
    public void TheLabelsAreRecordableOnEveryRank()
    {
        (string version, string commit) = BuildVersion.Parse(
            typeof(BuildVersion).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
                .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion);
        Assert.True(MetricLabels.BuildVersion.Accepts(version), version);
        Assert.True(MetricLabels.Commit.Accepts(commit), commit);
        Assert.True(MetricLabels.Backend.Accepts("cpu"));
        Assert.False(MetricLabels.Backend.Accepts("tpu"));
    }
}
