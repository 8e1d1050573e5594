using MoeRuntime.Build;

namespace MoeRuntime.Build.Tests;

/// <summary>The GLIBCXX weakening on TorchSharp's real native bridge, straight from the NuGet package folder.</summary>
public class ElfVersionsTests
{
    const string Version = "GLIBCXX_3.4.32";

    static string PackagedBridge()
    {
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string path = Path.Combine(packages, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(path), $"{path} should have been restored with the solution");
        return path;
    }

    [Fact]
    public void ThePackagedBridgeNeedsTheVersionStrongly()
    {
        var needs = ElfVersions.ReadVersionNeeds(File.ReadAllBytes(PackagedBridge()));
        var need = Assert.Single(needs, n => n.Version == Version);
        Assert.Equal("libstdc++.so.6", need.File);
        Assert.False(need.IsWeak);
        Assert.Contains(needs, n => n.File == "libc.so.6");
    }

    [Fact]
    public void WeakeningChangesOnlyThatRequirementsFlags()
    {
        byte[] original = File.ReadAllBytes(PackagedBridge());
        byte[] patched = (byte[])original.Clone();

        Assert.True(ElfVersions.Weaken(patched, Version));
        Assert.False(ElfVersions.Weaken(patched, Version));

        var changed = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToArray();
        var need = ElfVersions.ReadVersionNeeds(patched).Single(n => n.Version == Version);
        Assert.True(need.IsWeak);
        Assert.All(changed, i => Assert.InRange(i, need.FlagsOffset, need.FlagsOffset + 1));
        Assert.All(ElfVersions.ReadVersionNeeds(patched).Where(n => n.Version != Version), n => Assert.False(n.IsWeak));
    }

    [Fact]
    public void WeakeningAFileReplacesItInsteadOfWritingThroughLinks()
    {
        string dir = Directory.CreateTempSubdirectory("moe-elf-").FullName;
        try
        {
            string source = Path.Combine(dir, "package.so"), output = Path.Combine(dir, "output.so");
            File.Copy(PackagedBridge(), source);
            File.CreateSymbolicLink(output, source);

            Assert.True(ElfVersions.WeakenFile(output, Version));

            Assert.False(ElfVersions.ReadVersionNeeds(File.ReadAllBytes(source)).Single(n => n.Version == Version).IsWeak);
            Assert.True(ElfVersions.ReadVersionNeeds(File.ReadAllBytes(output)).Single(n => n.Version == Version).IsWeak);
            Assert.Null(new FileInfo(output).LinkTarget);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void TheHostLibStdCxxDefinesItsBaseVersion()
    {
        string? host = ElfVersions.FindHostLibStdCxx();
        Assert.NotNull(host);
        var defined = ElfVersions.ReadVersionDefinitions(File.ReadAllBytes(host));
        Assert.Contains("GLIBCXX_3.4", defined);
        Assert.Contains("CXXABI_1.3", defined);
    }

    [Fact]
    public void NonElfInputIsRefused()
    {
        Assert.Throws<InvalidDataException>(() => ElfVersions.ReadVersionNeeds("not an ELF file at all, just text"u8.ToArray().Concat(new byte[64]).ToArray()));
        Assert.Throws<InvalidDataException>(() => ElfVersions.ReadVersionNeeds(new byte[10]));
    }
}
