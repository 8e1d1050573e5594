namespace MoeRuntime.Telemetry.Tests;

/// <summary>Finds the checkout the tests run from, by the solution file.</summary>
internal static class RepositoryRoot
{
    public static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MoeRuntime.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("No MoeRuntime.sln above the test binaries.");
    }
}
