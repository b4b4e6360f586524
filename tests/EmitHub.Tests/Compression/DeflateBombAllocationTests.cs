using System.Net;
using EmitHub.Tests.EndToEnd;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Compression;

/// <summary>
/// A deflate bomb on a real server (RFC 7692 §8.1 attack): the inflater stops at <c>message_size_limit</c>, closes
/// 1009 and the process allocates a bounded amount, far below what the message would inflate to. Runs alone
/// (<see cref="AllocationMeasurementCollection"/>) because the allocation count is process-wide.
/// </summary>
[Collection(AllocationMeasurementCollection.Name)]
public class DeflateBombAllocationTests
{
    private const string ChannelBody = """{"name":"Dashboard","settings":{"allow_client_messages":true,"rate_limit_per_minute":0}}""";

    [Fact]
    public async Task A_deflate_bomb_is_closed_1009_and_the_server_stays_healthy()
    {
        await using var hub = await TestHubServer.StartAsync(o => o.MessageSizeLimit = 64 * 1024);
        var id = await hub.CreateActiveChannelAsync(ChannelBody);
        using var raw = await RawWebSocketClient.ConnectAsync(hub.EndPoint, $"/api/v1/channels/{id}/ws", "permessage-deflate");
        await raw.ReadFrameAsync();
        // 60 MiB of zeros deflate to ~60 KB: under the 64 KiB limit on the wire, a thousand times it inflated.
        var bomb = PerMessageDeflateReaderTests.Deflate(new byte[60 * 1024 * 1024]);
        Assert.True(bomb.Length < 64 * 1024);
        var frame = PerMessageDeflateReaderTests.CompressedFrame(bomb);
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await raw.SendAsync(frame);
        var close = await raw.ReadFrameAsync();
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal(0x88, close.First);
        Assert.Equal(1009, close.Payload[0] << 8 | close.Payload[1]);
        Assert.True(allocated < 16 * 1024 * 1024, $"{allocated} bytes allocated while refusing a 60 MiB bomb");
        Assert.Equal(HttpStatusCode.OK, (await hub.Client.GetAsync("/health")).StatusCode);
    }
}
