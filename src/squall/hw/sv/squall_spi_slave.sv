module squall_spi_slave (
    input  wire        clk,         // system clock, at least 4x sclk
    input  wire        rst,
    input  wire        sclk,        // SPI mode 0 from the master
    input  wire        cs_n,
    input  wire        mosi,
    output wire        miso,
    output reg         rx_valid,    // a received 16-bit word (system clock domain)
    output reg  [15:0] rx_data,
    output reg         rx_first,    // with rx_valid: the transaction's first word (the command)
    output reg         txn_end,     // pulse: CS went high
    input  wire        tx_we,       // write result word tx_addr (system clock domain)
    input  wire [@AB@-1:0] tx_addr,
    input  wire [31:0] tx_data
);
    localparam WORDS = @WORDS@;
    reg [31:0] tx_buf [0:WORDS-1];
    integer i;
    initial for (i = 0; i < WORDS; i = i + 1) tx_buf[i] = 32'd0;   // FPGA power-up contents
    always @(posedge clk) if (tx_we) tx_buf[tx_addr] <= tx_data;

    // SCLK domain, receive on the rising edge: 16-bit frames; whether a word is the
    // transaction's first (the command) is decided here and travels with the word, so a short
    // CS-high pulse between transactions cannot be missed
    reg [3:0] rbit;
    reg [14:0] rshift;
    reg [15:0] rword;
    reg rword_first, rseen;
    reg rtoggle;
    always @(posedge sclk or posedge cs_n) begin
        if (cs_n) begin
            rbit <= 4'd0;
            rseen <= 1'b0;
        end else begin
            rshift <= {rshift[13:0], mosi};
            rbit <= rbit + 4'd1;
            if (rbit == 4'd15) begin
                rword <= {rshift, mosi};
                rword_first <= !rseen;
                rseen <= 1'b1;
            end
        end
    end
    initial rtoggle = 1'b0;
    always @(posedge sclk) if (!cs_n && rbit == 4'd15) rtoggle <= ~rtoggle;

    // SCLK domain, send on the falling edge: after the 16-clock command, 32-bit words MSB first
    reg [@CNTB@-1:0] tcnt;             // falling edges so far in this transaction
    always @(negedge sclk or posedge cs_n) begin
        if (cs_n) tcnt <= 0;
        else if (tcnt != {@CNTB@{1'b1}}) tcnt <= tcnt + 1'b1;
    end
    wire [@CNTB@-1:0] tpos = tcnt - @CNTB@'d16;
    wire [@CNTB@-6:0] tword = tpos[@CNTB@-1:5];
    wire [4:0] tbit = ~tpos[4:0];
    wire [31:0] tcur = tx_buf[tword[@AB@-1:0]];
    assign miso = cs_n ? 1'bz                       // released when not selected
                : (tcnt >= @CNTB@'d16 && tword < WORDS) ? tcur[tbit] : 1'b0;

    // into the system clock domain: two flip-flops, then edge detection. During reset the
    // synchroniser keeps shifting (no pulses), so a toggle left from before the reset is not
    // taken for a new word: hold rst for at least 3 clocks.
    reg [2:0] tsync, csync;
    always @(posedge clk) begin
        rx_valid <= 1'b0;
        txn_end <= 1'b0;
        tsync <= {tsync[1:0], rtoggle};
        csync <= {csync[1:0], cs_n};
        if (!rst) begin
            if (tsync[2] != tsync[1]) begin       // rword is stable for 15 more SCLK periods
                rx_valid <= 1'b1;
                rx_data <= rword;
                rx_first <= rword_first;
            end
            if (csync[1] && !csync[2]) txn_end <= 1'b1;
        end
    end
endmodule
