using System.Text;
using MoeRuntime.Traces;

namespace MoeRuntime.Control.Tests.Traces;

public class RoutingTraceReaderValidationTests
{
    const string Header = """{"format":"moe-routing-trace","version":1,"model":"m","layers":2,"experts":4,"top_k":2}""";
    const string Good = """{"step":0,"request":"r","layer":0,"positions":[0],"experts":[[0,1]],"weights":[[0.5,0.5]]}""";

    static RoutingTraceFormatException ReadFails(string text, RoutingTraceReaderOptions? options = null)
    {
        return Assert.Throws<RoutingTraceFormatException>(() =>
        {
            using var reader = new RoutingTraceReader(new MemoryStream(Encoding.UTF8.GetBytes(text)), options);
            foreach (RoutingTraceRecord _ in reader.ReadAll()) { }
        });
    }

    [Theory]
    [InlineData("""{"step":0,"request":"r","layer":0,"positions":[0],"experts":[[0,1]]""", "not valid JSON")]
    [InlineData("""[1,2]""", "JSON object")]
    [InlineData("""{"request":"r","layer":0,"positions":[0],"experts":[[0,1]]}""", "\"step\"")]
    [InlineData("""{"step":-1,"request":"r","layer":0,"positions":[0],"experts":[[0,1]]}""", "\"step\"")]
    [InlineData("""{"step":0,"layer":0,"positions":[0],"experts":[[0,1]]}""", "\"request\"")]
    [InlineData("""{"step":0,"request":"r","layer":2,"positions":[0],"experts":[[0,1]]}""", "\"layer\" must be an integer in 0..1")]
    [InlineData("""{"step":0,"request":"r","layer":0,"positions":[],"experts":[]}""", "\"positions\" must hold")]
    [InlineData("""{"step":0,"request":"r","layer":0,"positions":[-3],"experts":[[0,1]]}""", "positions[0]")]
    [InlineData("""{"step":0,"request":"r","layer":0,"positions":[0,1],"experts":[[0,1]]}""", "one list per position")]
    [InlineData("""{"step":0,"request":"r","layer":0,"positions":[0],"experts":[[0,4]]}""", "experts[0][1] must be an integer in 0..3")]
    [InlineData("""{"step":0,"request":"r","layer":0,"positions":[0],"experts":[[0,1,2]]}""", "1..2 experts")]
    [InlineData("""{"step":0,"request":"r","layer":0,"positions":[0],"experts":[[1,1]]}""", "twice")]
    [InlineData("""{"step":0,"request":"r","layer":0,"positions":[0,1],"experts":[[1,2],[3]]}""", "one width")]
    [InlineData("""{"step":0,"request":"r","layer":0,"positions":[0],"experts":[[0,1]],"weights":[[0.5]]}""", "weights[0]")]
    [InlineData("""{"step":0,"request":"r","layer":0,"positions":[0],"experts":[[0,1]],"weights":[[0.5,"x"]]}""", "finite number")]
    [InlineData("""{"step":0,"request":"r","layer":0,"positions":[0],"experts":[[0,1]],"weights":[[0.5,1e999]]}""", "finite number")]
    [InlineData("""{"format":"moe-routing-trace","version":1,"layers":2,"experts":4,"top_k":2}""", "second header")]
    public void Malformed_record_is_rejected_with_its_line(string line, string message)
    {
        RoutingTraceFormatException e = ReadFails($"{Header}\n{Good}\n\n{line}\n{Good}\n");
        Assert.Equal(4, e.Line);
        Assert.Contains(message, e.Message);
        Assert.StartsWith("line 4: ", e.Message);
    }

    [Fact]
    public void Steps_must_not_go_back()
    {
        RoutingTraceFormatException e = ReadFails($"{Header}\n{Good.Replace("\"step\":0", "\"step\":3")}\n{Good}\n");
        Assert.Equal(3, e.Line);
        Assert.Contains("must not decrease", e.Message);
    }

    [Theory]
    [InlineData("", "expected the header")]
    [InlineData("""{"step":0}""", "expected the header")]
    [InlineData("""{"format":"moe-routing-trace","version":2,"layers":2,"experts":4,"top_k":2}""", "version 2 is not supported")]
    [InlineData("""{"format":"moe-routing-trace","version":1,"layers":2,"experts":4,"top_k":5}""", "top_k")]
    [InlineData("""{"format":"moe-routing-trace","version":1,"layers":2,"experts":4}""", "\"top_k\"")]
    [InlineData("""{"format":"moe-routing-trace","version":1,"layers":2,"experts":4,"top_k":2,"expert_bytes":-1}""", "expert_bytes")]
    public void Bad_header_is_rejected_on_line_one(string header, string message)
    {
        RoutingTraceFormatException e = ReadFails(header + "\n" + Good + "\n");
        Assert.Equal(1, e.Line);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Overlong_lines_and_requests_are_rejected()
    {
        string padded = Good.Replace("\"r\"", "\"" + new string('x', 5000) + "\"");
        RoutingTraceFormatException e = ReadFails($"{Header}\n{padded}\n", new RoutingTraceReaderOptions { MaxLineBytes = 1024 });
        Assert.Equal(2, e.Line);
        Assert.Contains("longer than 1024 bytes", e.Message);
        e = ReadFails($"{Header}\n{padded}\n");
        Assert.Contains("\"request\" is longer", e.Message);
    }

    [Fact]
    public void Unknown_fields_and_missing_weights_are_accepted()
    {
        string text = $"{Header}\n" + """{"step":0,"request":"r","layer":1,"positions":[4],"experts":[[3,2]],"note":{"a":1}}""" + "\n";
        using var reader = new RoutingTraceReader(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        RoutingTraceRecord record = Assert.Single(reader.ReadAll());
        Assert.Equal([3, 2], record.Experts);
        Assert.Empty(record.Weights);
    }

    [Fact]
    public void Crlf_line_ends_and_a_missing_final_newline_are_fine()
    {
        string text = $"{Header}\r\n{Good}\r\n{Good}";
        using var reader = new RoutingTraceReader(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        Assert.Equal(2, reader.ReadAll().Count());
    }
}
