using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace MoeRuntime.Deploy.Tests;

/// <summary>
/// The fast half of the publish layout's checks (the slow half, publishing and starting the silo from the folder and
/// installing moe as a .NET tool, is deploy/publish-check.sh, minutes long): the script, the Dockerfile, the
/// StatefulSet and the tool's project agree on one folder /app with moe-silo and moe in it; the runbooks cover the
/// operations for both systemd and Kubernetes.
/// </summary>
public sealed class PublishLayoutTests
{
    [Fact]
    public void Publish_sh_puts_the_silo_and_moe_self_contained_in_one_folder()
    {
        string script = File.ReadAllText(Path.Combine(Repo.Deploy, "publish.sh"));
        Assert.Matches(@"for project in silo/MoeRuntime\.Silo src/MoeRuntime\.Cli; do", script);
        Assert.Matches(@"dotnet publish ""\$project"" -c Release --self-contained true -o ""\$out""", script);
        Assert.Contains("libLibTorchSharp.so", script);
    }

    [Fact]
    public void The_image_the_StatefulSet_and_the_Dockerfile_use_the_same_app_folder()
    {
        string dockerfile = File.ReadAllText(Path.Combine(Repo.Deploy, "Dockerfile"));
        Assert.Matches(@"(?m)^COPY app/ /app/$", dockerfile);
        Assert.Matches(@"(?m)^ENTRYPOINT \[""/app/moe-silo""\]$", dockerfile);
        Assert.Matches(@"(?m)^USER 10001:10001$", dockerfile);

        List<JsonObject> objects = Kubernetes.Objects("builtin");
        JsonNode pod = Kubernetes.Single(objects, "StatefulSet", "moe-silo")["spec"]!["template"]!["spec"]!;
        Assert.Equal("/app/moe-silo", (string?)pod["containers"]![0]!["command"]![0]);
        Assert.Equal("/app/moe", (string?)pod["initContainers"]![0]!["command"]![0]);
        Assert.Equal(10001, (int?)pod["securityContext"]!["runAsUser"]);
    }

    [Fact]
    public void Moe_is_packed_as_a_dotnet_tool_named_moe()
    {
        XDocument project = XDocument.Load(Path.Combine(Repo.Root, "src", "MoeRuntime.Cli", "MoeRuntime.Cli.csproj"));
        string? Property(string name) => project.Descendants(name).Select(e => e.Value).SingleOrDefault();
        Assert.Equal("true", Property("PackAsTool"));
        Assert.Equal("moe", Property("ToolCommandName"));
        Assert.Equal("MoeRuntime.Cli", Property("PackageId"));
        Assert.Matches(@"^\d+\.\d+\.\d+", Property("Version") ?? "");
        string check = File.ReadAllText(Path.Combine(Repo.Deploy, "publish-check.sh"));
        Assert.Contains("dotnet tool install MoeRuntime.Cli --tool-path", check);
    }

    [Theory]
    [InlineData("Scale out or in by a rank")]
    [InlineData("Replace a node")]
    [InlineData("Rotate certificates and tokens")]
    [InlineData("Upgrade")]
    [InlineData("Restore after losing Redis")]
    public void The_runbooks_cover_the_operation_for_systemd_and_Kubernetes(string operation)
    {
        string runbooks = File.ReadAllText(Repo.Runbooks);
        Match section = Regex.Match(runbooks, $@"(?ms)^## {Regex.Escape(operation)}\s*$(.*?)(?=^## |\z)");
        Assert.True(section.Success, $"deploy/runbooks.md has no '## {operation}' section");
        string body = section.Groups[1].Value;
        Assert.Matches(@"systemctl ", body);
        Assert.Matches(@"(?m)^(k|kubectl) ", body);
    }
}
