using System.Text;
using MoeRuntime.Traces;

namespace MoeRuntime.Control.Tests.Traces;

public class RoutingTraceRoundTripTests
{
    [Fact]
    public async Task Records_written_are_read_back_exactly()
    {
        var records = new List<RoutingTraceRecord>
        {
            new(0, "00000000000000aa", 0, [0, 1, 2], 2, [0, 1, 3, 2, 1, 0], [0.75f, 0.25f, 0.6f, 0.4f, 0.5123456f, 0.4876544f]),
            new(0, "00000000000000bb", 1, [7], 2, [3, 0], [0.9f, 0.1f]),
            new(1, "00000000000000aa", 0, [3], 1, [2], []),
            new(5, "opaque-id", 1, [4], 2, [1, 2], [1e-7f, 0.9999999f]),
        };
        using var stream = new MemoryStream();
        await using (var writer = new RoutingTraceWriter(stream, TraceFiles.Header(), leaveOpen: true))
        {
            foreach (RoutingTraceRecord r in records) Assert.True(writer.Write(r));
            await writer.FlushAsync();
            Assert.Equal(records.Count, writer.Written);
        }
        stream.Position = 0;
        using var reader = new RoutingTraceReader(stream);
        Assert.Equal(TraceFiles.Header(), reader.Header);
        List<RoutingTraceRecord> read = reader.ReadAll().ToList();
        Assert.Equal(records.Count, read.Count);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.Equal(records[i].Step, read[i].Step);
            Assert.Equal(records[i].Request, read[i].Request);
            Assert.Equal(records[i].Layer, read[i].Layer);
            Assert.Equal(records[i].TopK, read[i].TopK);
            Assert.Equal(records[i].Positions, read[i].Positions);
            Assert.Equal(records[i].Experts, read[i].Experts);
            Assert.Equal(records[i].Weights, read[i].Weights);
        }
    }

    [Fact]
    public async Task Concurrent_writers_lose_nothing_and_every_line_is_whole()
    {
        using var files = new TraceFiles();
        string path = files.Path("concurrent.jsonl");
        await using (var writer = RoutingTraceWriter.Create(path, TraceFiles.Header(), new RoutingTraceWriterOptions { BufferBytes = 2048, MaxPendingBuffers = 1 << 16 }))
        {
            await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
            {
                for (int i = 0; i < 2000; i++) writer.Write(0, (ulong)t, i % 2, [i], 2, [t % 4, (t + 1) % 4], [0.5f, 0.5f]);
            })));
            Assert.Equal(0, writer.Dropped);
        }
        using var reader = RoutingTraceReader.Open(path);
        Assert.Equal(8000, reader.ReadAll().Count());
    }

    [Fact]
    public async Task Writer_is_bounded_by_the_file_size_and_counts_what_it_drops()
    {
        using var stream = new MemoryStream();
        long dropped;
        await using (var writer = new RoutingTraceWriter(stream, TraceFiles.Header(), new RoutingTraceWriterOptions { MaxFileBytes = 4096 }, leaveOpen: true))
        {
            for (int i = 0; i < 1000; i++) writer.Write(i, 1UL, 0, [i], 2, [0, 1], [0.5f, 0.5f]);
            dropped = writer.Dropped;
            Assert.True(dropped > 0);
            Assert.Equal(1000, writer.Accepted + dropped);
        }
        Assert.True(stream.Length <= 4096 + 200, $"{stream.Length} bytes");
        stream.Position = 0;
        using var reader = new RoutingTraceReader(stream);
        Assert.Equal(1000 - dropped, reader.ReadAll().Count());
    }

    [Fact]
    public async Task Writer_rejects_shapes_that_do_not_match_top_k()
    {
        using var stream = new MemoryStream();
        await using var writer = new RoutingTraceWriter(stream, TraceFiles.Header(), leaveOpen: true);
        Assert.Throws<ArgumentException>(() => writer.Write(0, 1UL, 0, [0, 1], 2, [0, 1, 2], []));
        Assert.Throws<ArgumentException>(() => writer.Write(0, 1UL, 0, [0], 2, [0, 1], [1f]));
    }

    [Fact]
    public void Header_is_checked_before_anything_is_written()
    {
        Assert.Throws<ArgumentException>(() => new RoutingTraceWriter(new MemoryStream(), TraceFiles.Header(topK: 5)));
        Assert.Throws<ArgumentException>(() => new RoutingTraceWriter(new MemoryStream(), TraceFiles.Header(layers: 0)));
    }

    [Fact]
    public async Task Header_fields_are_the_documented_names()
    {
        using var stream = new MemoryStream();
        await new RoutingTraceWriter(stream, TraceFiles.Header(), leaveOpen: true).DisposeAsync();
        string first = Encoding.UTF8.GetString(stream.ToArray()).Split('\n')[0];
        Assert.Equal("""{"format":"moe-routing-trace","version":1,"model":"test","layers":2,"experts":4,"top_k":2,"expert_bytes":1000}""", first);
    }
}
