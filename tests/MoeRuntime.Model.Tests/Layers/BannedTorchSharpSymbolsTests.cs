using System.Reflection;
using TorchSharp;

namespace MoeRuntime.Model.Tests.Layers;

/// <summary>
/// The banned-API list that keeps implicit Scalars out of the model (src/MoeRuntime.Build/BannedSymbols.TorchSharp.txt):
/// the analyzer ignores an entry that names nothing, so a typo or a TorchSharp upgrade that renames a member would lift a
/// ban silently. Every entry must name a member of the TorchSharp assembly the model builds against.
/// </summary>
public class BannedTorchSharpSymbolsTests
{
    [Fact]
    public void EveryEntryNamesAMemberOfTorchSharp()
    {
        string path = Path.Combine(RepositoryRoot(), "src", "MoeRuntime.Build", "BannedSymbols.TorchSharp.txt");
        List<string> entries = File.ReadAllLines(path)
            .Select(line => line.Split(';')[0].Trim())
            .Where(id => id.Length > 0 && !id.StartsWith("//", StringComparison.Ordinal))
            .ToList();
        HashSet<string> members = typeof(Scalar).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(Id)
            .ToHashSet(StringComparer.Ordinal);

        Assert.True(entries.Count > 40, $"{path} lists {entries.Count} entries");
        List<string> unknown = entries.Where(id => !members.Contains(id)).ToList();
        Assert.True(unknown.Count == 0, $"entries that name no TorchSharp member: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void TheIdsAreTheCompilersDocumentationIds()
    {
        MethodInfo implicitDouble = typeof(Scalar).GetMethods().Single(m => m.Name == "op_Implicit" && m.GetParameters()[0].ParameterType == typeof(double));
        MethodInfo addAlpha = typeof(torch.Tensor).GetMethod("add_", [typeof(torch.Tensor), typeof(Scalar)])!;
        MethodInfo square = typeof(torch.Tensor).GetMethod("square", Type.EmptyTypes)!;

        Assert.Equal("M:TorchSharp.Scalar.op_Implicit(System.Double)~TorchSharp.Scalar", Id(implicitDouble));
        Assert.Equal("M:TorchSharp.torch.Tensor.add_(TorchSharp.torch.Tensor,TorchSharp.Scalar)", Id(addAlpha));
        Assert.Equal("M:TorchSharp.torch.Tensor.square", Id(square));
    }

    /// <summary>The C# documentation id of a method (the form BannedSymbols.txt takes).</summary>
    static string Id(MethodInfo method)
    {
        ParameterInfo[] parameters = method.GetParameters();
        string id = $"M:{Id(method.DeclaringType!)}.{method.Name}";
        if (parameters.Length > 0) id += $"({string.Join(",", parameters.Select(p => Id(p.ParameterType)))})";
        if (method.Name is "op_Implicit" or "op_Explicit") id += $"~{Id(method.ReturnType)}";
        return id;
    }

    static string Id(Type type)
    {
        if (type.IsGenericParameter) return (type.DeclaringMethod is null ? "`" : "``") + type.GenericParameterPosition;
        // Arrays, pointers and references of generic parameters have no full name; no banned entry takes one.
        if (!type.IsGenericType || type.FullName is null && type.HasElementType) return (type.FullName ?? type.ToString()).Replace('+', '.');
        string name = type.GetGenericTypeDefinition().FullName!;
        return $"{name[..name.IndexOf('`', StringComparison.Ordinal)].Replace('+', '.')}{{{string.Join(",", type.GetGenericArguments().Select(Id))}}}";
    }

    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MoeRuntime.sln"))) return dir.FullName;
        throw new InvalidOperationException("No MoeRuntime.sln above the test binaries.");
    }
}
