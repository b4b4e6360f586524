using EmitHub.Core.Channels;
using EmitHub.Core.Storage;

namespace EmitHub.Tests.Auth;

public class PrivateSettingStoreTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_channel_record_keeps_its_private_setting_through_the_log_codec(bool isPrivate)
    {
        var now = DateTimeOffset.UtcNow;
        var record = new ChannelRecord(Guid.NewGuid(), "Sala", null, ChannelStatus.Active, now, now,
            new ChannelSettings(10, false, true, 60, 0, isPrivate), "epoch-1", 7, 7);

        var bytes = StoreRecordCodec.EncodeChannel(record);

        Assert.True(StoreRecordCodec.TryRead(bytes, out var read, out var error), error);
        Assert.Equal(isPrivate, read.Channel!.Settings.Private);
        Assert.Equal(record.Settings, read.Channel.Settings);
    }
}
