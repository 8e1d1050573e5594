using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;

namespace MoeRuntime.Traces;

/// <summary>Limits of a <see cref="RoutingTraceWriter"/>.</summary>
public sealed record RoutingTraceWriterOptions
{
    /// <summary>Records are serialised into buffers of about this size, which a background task writes out.</summary>
    public int BufferBytes { get; init; } = 64 << 10;
    /// <summary>Full buffers waiting for the file; when all are taken, new records are dropped (and counted), never waited for.</summary>
    public int MaxPendingBuffers { get; init; } = 64;
    /// <summary>The trace stops growing at this size; later records are dropped and counted.</summary>
    public long MaxFileBytes { get; init; } = 4L << 30;
    /// <summary>A partly filled buffer is written out at least this often.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Writes a routing trace as JSON lines: the header, then one line per record. Safe to call from any
/// thread; a call serialises into a reused buffer under a short lock and never blocks on the file:
/// full buffers go to a bounded queue that a background task drains, and when that queue is full the
/// records are dropped and counted in <see cref="Dropped"/> (a trace is evidence, not a ledger).
/// </summary>
public sealed class RoutingTraceWriter : IAsyncDisposable
{
    readonly Stream _stream;
    readonly bool _leaveOpen;
    readonly RoutingTraceWriterOptions _options;
    readonly Lock _lock = new();
    readonly Channel<Chunk> _pending;
    readonly ConcurrentStack<ArrayBufferWriter<byte>> _free = new();
    readonly Task _drain;
    readonly Timer _timer;
    readonly Utf8JsonWriter _json;
    ArrayBufferWriter<byte> _buffer;
    int _bufferRecords;
    long _accepted, _written, _dropped, _handedOff;
    bool _closed;

    public RoutingTraceWriter(Stream stream, RoutingTraceHeader header, RoutingTraceWriterOptions? options = null, bool leaveOpen = false)
    {
        header.Validate();
        _stream = stream;
        _leaveOpen = leaveOpen;
        _options = options ?? new RoutingTraceWriterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.BufferBytes, 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxPendingBuffers, 1);
        Header = header;
        _pending = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(_options.MaxPendingBuffers) { SingleReader = true });
        _buffer = new ArrayBufferWriter<byte>(_options.BufferBytes + 1024);
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });
        WriteHeader(header);
        _drain = Task.Run(DrainAsync);
        _timer = new Timer(_ => FlushBuffer(), null, _options.FlushInterval, _options.FlushInterval);
    }

    /// <summary>Creates (or replaces) the file at <paramref name="path"/>.</summary>
    public static RoutingTraceWriter Create(string path, RoutingTraceHeader header, RoutingTraceWriterOptions? options = null)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16, useAsync: true);
        return new RoutingTraceWriter(stream, header, options);
    }

    public RoutingTraceHeader Header { get; }
    /// <summary>Records accepted into a buffer.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);
    /// <summary>Records written to the stream.</summary>
    public long Written => Interlocked.Read(ref _written);
    /// <summary>Records dropped because the queue was full, the size limit reached, or the writer closed.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Appends one record; the request is written as 16 hex digits. Returns false when the record was dropped.</summary>
    public bool Write(long step, ulong request, int layer, ReadOnlySpan<long> positions, int topK, ReadOnlySpan<int> experts, ReadOnlySpan<float> weights)
    {
        Span<char> id = stackalloc char[16];
        request.TryFormat(id, out _, "x16");
        return Write(step, id, layer, positions, topK, experts, weights);
    }

    /// <summary>Appends one record (see <see cref="RoutingTraceRecord"/>). Returns false when the record was dropped.</summary>
    public bool Write(RoutingTraceRecord record) =>
        Write(record.Step, record.Request, record.Layer, record.Positions, record.TopK, record.Experts, record.Weights);

    /// <summary>Appends one record with an already opaque request id. Returns false when the record was dropped.</summary>
    public bool Write(long step, ReadOnlySpan<char> request, int layer, ReadOnlySpan<long> positions, int topK, ReadOnlySpan<int> experts, ReadOnlySpan<float> weights)
    {
        if (topK < 1 || experts.Length != positions.Length * topK || (weights.Length != 0 && weights.Length != experts.Length))
            throw new ArgumentException("experts and weights must hold topK entries per position");
        lock (_lock)
        {
            if (_closed || _handedOff + _buffer.WrittenCount >= _options.MaxFileBytes)
            {
                Interlocked.Increment(ref _dropped);
                return false;
            }
            _json.Reset(_buffer);
            _json.WriteStartObject();
            _json.WriteNumber("step"u8, step);
            _json.WriteString("request"u8, request);
            _json.WriteNumber("layer"u8, layer);
            _json.WriteStartArray("positions"u8);
            foreach (long p in positions) _json.WriteNumberValue(p);
            _json.WriteEndArray();
            WriteNested("experts"u8, experts, topK);
            if (!weights.IsEmpty)
            {
                _json.WriteStartArray("weights"u8);
                for (int at = 0; at < weights.Length; at += topK)
                {
                    _json.WriteStartArray();
                    foreach (float w in weights.Slice(at, topK)) _json.WriteNumberValue(w);
                    _json.WriteEndArray();
                }
                _json.WriteEndArray();
            }
            _json.WriteEndObject();
            _json.Flush();
            _buffer.GetSpan(1)[0] = (byte)'\n';
            _buffer.Advance(1);
            _bufferRecords++;
            Interlocked.Increment(ref _accepted);
            if (_buffer.WrittenCount >= _options.BufferBytes) HandOff();
            return true;
        }
    }

    void WriteNested(ReadOnlySpan<byte> name, ReadOnlySpan<int> values, int width)
    {
        _json.WriteStartArray(name);
        for (int at = 0; at < values.Length; at += width)
        {
            _json.WriteStartArray();
            foreach (int v in values.Slice(at, width)) _json.WriteNumberValue(v);
            _json.WriteEndArray();
        }
        _json.WriteEndArray();
    }

    void WriteHeader(RoutingTraceHeader header)
    {
        _json.Reset(_buffer);
        _json.WriteStartObject();
        _json.WriteString("format"u8, RoutingTraceHeader.FormatName);
        _json.WriteNumber("version"u8, header.Version);
        _json.WriteString("model"u8, header.Model);
        _json.WriteNumber("layers"u8, header.Layers);
        _json.WriteNumber("experts"u8, header.Experts);
        _json.WriteNumber("top_k"u8, header.TopK);
        if (header.ExpertBytes is { } bytes) _json.WriteNumber("expert_bytes"u8, bytes);
        _json.WriteEndObject();
        _json.Flush();
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
    }

    /// <summary>Moves the current buffer to the queue (caller holds the lock).</summary>
    void HandOff()
    {
        if (_buffer.WrittenCount == 0) return;
        var chunk = new Chunk(_buffer, _bufferRecords, null);
        if (_pending.Writer.TryWrite(chunk))
        {
            _handedOff += _buffer.WrittenCount;
            _buffer = _free.TryPop(out ArrayBufferWriter<byte>? reused) ? reused : new ArrayBufferWriter<byte>(_options.BufferBytes + 1024);
        }
        else
        {
            Interlocked.Add(ref _dropped, _bufferRecords);
            _buffer.ResetWrittenCount();
        }
        _bufferRecords = 0;
    }

    void FlushBuffer()
    {
        lock (_lock)
        {
            if (!_closed) HandOff();
        }
    }

    /// <summary>Writes everything accepted so far to the stream and flushes it.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        FlushBuffer();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _pending.Writer.WriteAsync(new Chunk(null, 0, done), cancellationToken).ConfigureAwait(false);
        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    async Task DrainAsync()
    {
        await foreach (Chunk chunk in _pending.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                if (chunk.Buffer is { } buffer)
                {
                    await _stream.WriteAsync(buffer.WrittenMemory).ConfigureAwait(false);
                    Interlocked.Add(ref _written, chunk.Records);
                    buffer.ResetWrittenCount();
                    _free.Push(buffer);
                }
                if (chunk.Flushed is { } flushed)
                {
                    await _stream.FlushAsync().ConfigureAwait(false);
                    flushed.TrySetResult();
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // A full disk must not take serving down: count what is lost and keep draining.
                Interlocked.Add(ref _dropped, chunk.Records);
                chunk.Flushed?.TrySetException(e);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            if (_closed) return;
            HandOffFinal();
            _closed = true;
        }
        await _timer.DisposeAsync().ConfigureAwait(false);
        _pending.Writer.TryComplete();
        await _drain.ConfigureAwait(false);
        try
        {
            await _stream.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            await _json.DisposeAsync().ConfigureAwait(false);
            if (!_leaveOpen) await _stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The last buffer must not be dropped: wait for room (caller holds the lock; the drain task does not need it to make room).</summary>
    void HandOffFinal()
    {
        if (_buffer.WrittenCount == 0) return;
        var chunk = new Chunk(_buffer, _bufferRecords, null);
        while (!_pending.Writer.TryWrite(chunk)) Thread.Sleep(1);
        _bufferRecords = 0;
    }

    sealed record Chunk(ArrayBufferWriter<byte>? Buffer, int Records, TaskCompletionSource? Flushed);
}
