using System.Text;

namespace MoeRuntime.Build.Tests;

/// <summary>
/// The whitespace half of .editorconfig, checked on every source and text file of the repository (the C# half is
/// enforced by the compiler through EnforceCodeStyleInBuild): UTF-8, LF line ends, a final newline, no trailing
/// whitespace, and spaces, not tabs, except in the solution file, which Visual Studio writes with tabs.
/// </summary>
public class RepositoryStyleTests
{
    static readonly HashSet<string> TextExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".cs", ".csproj", ".props", ".targets", ".sln", ".json", ".yml", ".yaml", ".md", ".txt", ".html", ".js",
        ".css", ".config", ".service", ".sh", ".editorconfig", ".gitignore",
    };

    /// <summary>Extension-less scripts the repository keeps by name.</summary>
    static readonly string[] ScriptDirectories = [".ci", "tests", "loadtests"];

    static readonly HashSet<string> SkippedDirectories = new(StringComparer.Ordinal)
    {
        ".git", "bin", "obj", "node_modules", "TestResults", ".vs", ".idea", "artifacts", "models",
        "BenchmarkDotNet.Artifacts",
    };

    [Fact]
    public void Every_text_file_follows_the_editorconfig_whitespace_rules()
    {
        string root = FindRepositoryRoot();
        var files = TextFiles(root).ToList();
        Assert.True(files.Count > 100, $"found only {files.Count} text files under {root}");

        var problems = new List<string>();
        foreach (string file in files)
        {
            string? problem = Check(file);
            if (problem is not null)
            {
                problems.Add($"{Path.GetRelativePath(root, file)}: {problem}");
            }
        }
        Assert.True(problems.Count == 0, "files breaking .editorconfig:\n" + string.Join('\n', problems));
    }

    [Theory]
    [InlineData("a\r\nb\n", "CRLF line end on line 1")]
    [InlineData("a\nb", "no final newline")]
    [InlineData("a \nb\n", "trailing whitespace on line 1")]
    [InlineData("a\n\tb\n", "tab on line 2")]
    [InlineData("a\nb\n", null)]
    [InlineData("", null)]
    public void The_check_names_what_is_wrong(string text, string? expected)
    {
        string path = Path.Combine(Path.GetTempPath(), $"style-{Guid.NewGuid():N}.cs");
        File.WriteAllText(path, text, new UTF8Encoding(false));
        try
        {
            Assert.Equal(expected, Check(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_file_that_is_not_utf8_is_named()
    {
        string path = Path.Combine(Path.GetTempPath(), $"style-{Guid.NewGuid():N}.md");
        File.WriteAllBytes(path, [0x61, 0xff, 0xfe, 0x0a]);
        try
        {
            Assert.Equal("not UTF-8", Check(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    static string? Check(string file)
    {
        byte[] bytes = File.ReadAllBytes(file);
        if (bytes.Length == 0)
        {
            return null;
        }
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return "not UTF-8";
        }
        bool tabsAllowed = file.EndsWith(".sln", StringComparison.OrdinalIgnoreCase);
        string[] lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.EndsWith('\r'))
            {
                return $"CRLF line end on line {i + 1}";
            }
            if (line.Length > 0 && char.IsWhiteSpace(line[^1]))
            {
                return $"trailing whitespace on line {i + 1}";
            }
            if (!tabsAllowed && line.Contains('\t'))
            {
                return $"tab on line {i + 1}";
            }
        }
        return text.EndsWith('\n') ? null : "no final newline";
    }

    static IEnumerable<string> TextFiles(string root)
    {
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            string directory = pending.Pop();
            foreach (string child in Directory.EnumerateDirectories(directory))
            {
                if (!SkippedDirectories.Contains(Path.GetFileName(child)))
                {
                    pending.Push(child);
                }
            }
            foreach (string file in Directory.EnumerateFiles(directory))
            {
                if (IsText(root, file))
                {
                    yield return file;
                }
            }
        }
    }

    static bool IsText(string root, string file)
    {
        string name = Path.GetFileName(file);
        if (TextExtensions.Contains(Path.GetExtension(file)) || TextExtensions.Contains(name))
        {
            return true;
        }
        // Scripts without an extension (.ci/run, tests/run, loadtests/control-scenario): text when they start with "#!".
        string? top = Path.GetRelativePath(root, file).Split(Path.DirectorySeparatorChar)[0];
        if (Path.GetExtension(file).Length == 0 && ScriptDirectories.Contains(top))
        {
            using var stream = File.OpenRead(file);
            return stream.ReadByte() == '#' && stream.ReadByte() == '!';
        }
        return false;
    }

    static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "MoeRuntime.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException($"no MoeRuntime.sln above {AppContext.BaseDirectory}");
    }
}
