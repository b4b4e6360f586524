using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using EmitHub.Net.Api;

namespace EmitHub.Net.Http;

/// <summary>
/// The answer a handler builds: status, content type, extra field lines and body. Reused per connection; the
/// connection writes it with <see cref="ResponseWriter"/>, which adds Date, Server, Content-Length and Connection.
/// </summary>
public sealed class HttpResponse
{
    private readonly ArrayBufferWriter<byte> _body = new(1024);
    private readonly List<KeyValuePair<string, string>> _headers = new();
    private Utf8JsonWriter? _json;

    /// <summary>HTTP status code. Default 200.</summary>
    public int StatusCode { get; set; } = 200;

    /// <summary>Content-Type of the body; null when there is no body.</summary>
    public string? ContentType { get; set; }

    /// <summary>True to end the connection after this response (<c>Connection: close</c>).</summary>
    public bool CloseConnection { get; set; }

    /// <summary>Body bytes written so far.</summary>
    public ReadOnlyMemory<byte> Body => _body.WrittenMemory;

    /// <summary>Extra field lines in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    /// <summary>Adds a field line.</summary>
    public void AddHeader(string name, string value) => _headers.Add(new(name, value));

    /// <summary>Sets the status and a JSON body serialized by source generation.</summary>
    public void WriteJson<T>(int statusCode, T value, JsonTypeInfo<T> typeInfo)
    {
        StatusCode = statusCode;
        ContentType = "application/json";
        _body.ResetWrittenCount();
        var json = JsonWriter();
        JsonSerializer.Serialize(json, value, typeInfo);
        json.Flush();
    }

    /// <summary>Sets the status and a JSON body produced by <paramref name="write"/> into a Utf8JsonWriter.</summary>
    public void WriteJson(int statusCode, Action<Utf8JsonWriter> write)
    {
        StatusCode = statusCode;
        ContentType = "application/json";
        _body.ResetWrittenCount();
        var json = JsonWriter();
        write(json);
        json.Flush();
    }

    /// <summary>Sets an error answer <c>{"error": message, "code": code}</c> (SPEC §2).</summary>
    public void WriteError(int statusCode, string code, string message) =>
        WriteJson(statusCode, new ErrorBody(message, code), NetJsonContext.Default.ErrorBody);

    /// <summary>Sets the status and a body of raw bytes.</summary>
    public void WriteBytes(int statusCode, string contentType, ReadOnlySpan<byte> body)
    {
        StatusCode = statusCode;
        ContentType = contentType;
        _body.ResetWrittenCount();
        _body.Write(body);
    }

    /// <summary>Sets a status with no body (204 and such).</summary>
    public void WriteEmpty(int statusCode)
    {
        StatusCode = statusCode;
        ContentType = null;
        _body.ResetWrittenCount();
    }

    private Utf8JsonWriter JsonWriter()
    {
        if (_json == null)
        {
            // Bodies are JSON, never embedded in HTML: non-ASCII text stays UTF-8 ("clínica", not "cl\u00EDnica"),
            // the same bytes the WebSocket envelopes carry.
            _json = new Utf8JsonWriter(_body, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        }
        else
        {
            _json.Reset(_body);
        }
        return _json;
    }

    internal void Reset()
    {
        StatusCode = 200;
        ContentType = null;
        CloseConnection = false;
        _headers.Clear();
        _body.ResetWrittenCount();
        // A one-off large body (a history page) should not stay pinned to an idle connection.
        if (_body.Capacity > 64 * 1024)
        {
            _body.Clear();
        }
    }
}
