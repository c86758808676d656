//! A bank under simulation: accounts as isolates on several shards, transfers between them
//! that survive lost, late and refused messages, and a checker that proves no money is
//! made or lost.
//!
//! **The protocol.** A [`Teller`] asks a source account to pay another account with a call
//! ([`Withdraw`]); the source takes the money at once and records the payment in its bounded
//! outbox, then delivers it to the destination itself: a [`Deposit`] message carrying the
//! source's number and a sequence number, resent by a timer until the destination
//! acknowledges it ([`Ack`]). The destination applies each sequence number of a source once
//! (it keeps the last one applied per source), so a deposit resent after a lost or late ack
//! is recognised and only acknowledged again.
//!
//! Money is therefore always somewhere definite: in a balance, or in a source's outbox as a
//! payment its destination has not applied yet. [`money_in_bank`] adds both up across all
//! shards; it must always equal what the bank opened with. A teller that crashes mid-call
//! costs nothing (the source either took the money, and will deliver it, or did not); a
//! drop, delay or partition only delays a deposit.
//!
//! [`bank_spec`] builds the system; [`BankWorld`] holds the handles a checker needs. With
//! `dedup: false` the accounts apply every deposit they receive — the deliberate bug that a
//! sweep with message faults finds (a resent deposit is applied twice).

use core::time::Duration;

use tina::heapless;
use tina::prelude::*;

/// The most accounts a bank has.
pub const ACCOUNTS_MAX: usize = 6;
/// Payments an account holds until their destinations acknowledge them.
pub const OUTBOX: usize = 8;
/// How long a source waits for an ack before it sends a deposit again.
pub const RESEND_AFTER: Duration = Duration::from_millis(2);
/// How long a teller waits for a withdrawal.
pub const WITHDRAW_TIMEOUT: Duration = Duration::from_millis(1);

/// Asks an account to pay `amount` to `to` (account number `to_id`).
#[derive(Bounded, Request)]
#[reply(Withdrawn)]
pub struct Withdraw {
    /// The destination.
    pub to: Handle<Account>,
    /// The destination's account number.
    pub to_id: u8,
    /// How much.
    pub amount: u64,
}

/// A withdrawal's answer.
#[derive(Bounded, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Withdrawn {
    /// Taken; the account will deliver it.
    Taken,
    /// The balance is too low.
    Insufficient,
    /// The outbox is full; try later.
    Busy,
}

/// A payment on its way: from source `from` (its handle, for the ack), its `seq`-th.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct Deposit {
    /// The source.
    pub from: Handle<Account>,
    /// The source's account number.
    pub from_id: u8,
    /// The source's sequence number of this payment (from 1, in order).
    pub seq: u64,
    /// How much.
    pub amount: u64,
}

/// The destination has applied the source's payment `seq`.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct Ack {
    /// The payment's sequence number.
    pub seq: u64,
}

/// The resend timer.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct Resend;

/// A payment an account took and has not seen acknowledged.
#[derive(Bounded, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Its sequence number.
    pub seq: u64,
    /// The destination.
    pub to: Handle<Account>,
    /// The destination's account number.
    pub to_id: u8,
    /// How much.
    pub amount: u64,
}

/// What an account is opened with.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct AccountArgs {
    /// Its number, below [`ACCOUNTS_MAX`].
    pub id: u8,
    /// The opening balance.
    pub balance: u64,
    /// Whether resent deposits are recognised (false: the deliberate bug).
    pub dedup: bool,
}

/// One account.
#[isolate(mailbox = 32)]
pub struct Account {
    /// Its number.
    pub id: u8,
    /// The balance.
    pub balance: u64,
    /// Payments taken, not yet acknowledged, oldest first.
    pub outbox: heapless::Deque<Pending, OUTBOX>,
    /// The last sequence number handed out.
    pub last_seq: u64,
    /// Per source account: the last sequence number applied.
    pub applied: [u64; ACCOUNTS_MAX],
    /// Whether the resend timer is set.
    pub resend_armed: bool,
    /// Whether resent deposits are recognised.
    pub dedup: bool,
    /// Deposits applied.
    pub deposits_applied: u64,
    /// Resent deposits recognised and only acknowledged.
    pub duplicates: u64,
    /// Deposits sent again after no ack came.
    pub resends: u64,
    /// Deposits that came back undelivered (resent by the timer).
    pub bounced: u64,
}

#[isolate]
impl Account {
    fn init(args: &AccountArgs, _ctx: &mut Ctx<Self>) -> Self {
        Account {
            id: args.id,
            balance: args.balance,
            outbox: heapless::Deque::new(),
            last_seq: 0,
            applied: [0; ACCOUNTS_MAX],
            resend_armed: false,
            dedup: args.dedup,
            deposits_applied: 0,
            duplicates: 0,
            resends: 0,
            bounced: 0,
        }
    }

    fn withdraw(
        &mut self,
        request: Withdraw,
        reply: ReplyTo<Withdraw>,
        ctx: &mut Ctx<Self>,
    ) -> Effect {
        if request.amount > self.balance {
            return ctx.reply(reply, Withdrawn::Insufficient);
        }
        if self.outbox.is_full() {
            return ctx.reply(reply, Withdrawn::Busy);
        }
        self.balance -= request.amount;
        self.last_seq += 1;
        let pending = Pending {
            seq: self.last_seq,
            to: request.to,
            to_id: request.to_id,
            amount: request.amount,
        };
        // Room was checked above.
        let _ = self.outbox.push_back(pending);
        if self.outbox.len() == 1 {
            self.send_head(ctx);
        }
        self.arm(ctx);
        ctx.reply(reply, Withdrawn::Taken)
    }

    fn deposit(&mut self, deposit: Deposit, ctx: &mut Ctx<Self>) -> Effect {
        let source = deposit.from_id as usize % ACCOUNTS_MAX;
        if self.dedup && deposit.seq <= self.applied[source] {
            self.duplicates += 1;
        } else {
            self.balance += deposit.amount;
            self.applied[source] = self.applied[source].max(deposit.seq);
            self.deposits_applied += 1;
        }
        // A lost ack is made good by the source's resend, which is acknowledged again.
        let _ = ctx.send(&deposit.from, Ack { seq: deposit.seq });
        Effect::Receive
    }

    fn ack(&mut self, ack: Ack, ctx: &mut Ctx<Self>) -> Effect {
        if self.outbox.front().is_some_and(|head| head.seq == ack.seq) {
            self.outbox.pop_front();
            if !self.outbox.is_empty() {
                self.send_head(ctx);
            }
        }
        Effect::Receive
    }

    fn resend(&mut self, _timer: Resend, ctx: &mut Ctx<Self>) -> Effect {
        self.resend_armed = false;
        if !self.outbox.is_empty() {
            self.resends += 1;
            self.send_head(ctx);
            self.arm(ctx);
        }
        Effect::Receive
    }

    fn undelivered(&mut self, _bounce: Undelivered<Deposit>, ctx: &mut Ctx<Self>) -> Effect {
        // Refused on arrival: the resend timer sends it again.
        self.bounced += 1;
        self.arm(ctx);
        Effect::Receive
    }
}

impl Account {
    /// Sends the oldest unacknowledged payment; a refusal is left to the resend timer.
    fn send_head(&mut self, ctx: &mut Ctx<Self>) {
        if let Some(head) = self.outbox.front().copied() {
            let deposit = Deposit {
                from: ctx.me(),
                from_id: self.id,
                seq: head.seq,
                amount: head.amount,
            };
            let _ = ctx.send(&head.to, deposit);
        }
    }

    /// Sets the resend timer, unless it is set.
    fn arm(&mut self, ctx: &mut Ctx<Self>) {
        if !self.resend_armed && ctx.after(RESEND_AFTER, Resend).is_ok() {
            self.resend_armed = true;
        }
    }
}

/// Makes a teller ask for its next transfer.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct Next;

/// What a teller is started with.
#[derive(Bounded, Clone, Copy, Debug)]
pub struct TellerArgs {
    /// The accounts it moves money between: the first `count` (init args travel in one
    /// 64-byte envelope, which bounds how many fit).
    pub accounts: [Handle<Account>; ACCOUNTS_MAX],
    /// How many of `accounts` there are.
    pub count: u8,
    /// How many transfers it asks for.
    pub transfers: u16,
    /// Its own random sequence (which accounts, how much).
    pub seed: u32,
}

/// A test driver: an ordinary isolate that asks accounts for transfers, one call at a time.
#[isolate(mailbox = 4)]
pub struct Teller {
    accounts: heapless::Vec<Handle<Account>, ACCOUNTS_MAX>,
    left: u32,
    rng: u64,
    /// Transfers taken.
    pub taken: u32,
    /// Refused for want of money or outbox room.
    pub declined: u32,
    /// Calls that timed out (the money may or may not have been taken: the account knows).
    pub timed_out: u32,
    /// Calls refused on the way.
    pub refused: u32,
}

#[isolate]
impl Teller {
    fn init(args: &TellerArgs, ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.after(Duration::from_micros(10), Next);
        Teller {
            accounts: args.accounts[..usize::from(args.count).min(ACCOUNTS_MAX)]
                .iter()
                .copied()
                .collect(),
            left: u32::from(args.transfers),
            rng: u64::from(args.seed) << 32 | 0x9E37_79B9,
            taken: 0,
            declined: 0,
            timed_out: 0,
            refused: 0,
        }
    }

    fn next(&mut self, _next: Next, ctx: &mut Ctx<Self>) -> Effect {
        let count = self.accounts.len() as u64;
        if self.left == 0 || count < 2 {
            return Effect::Receive;
        }
        self.left -= 1;
        let from = (self.draw() % count) as usize;
        let to = ((from as u64 + 1 + self.draw() % (count - 1)) % count) as usize;
        let amount = 1 + self.draw() % 50;
        let request = Withdraw {
            to: self.accounts[to],
            to_id: to as u8,
            amount,
        };
        match ctx.call(&self.accounts[from], request, WITHDRAW_TIMEOUT) {
            Ok(wait) => wait,
            Err(_) => {
                self.refused += 1;
                self.later(ctx);
                Effect::Receive
            }
        }
    }

    fn withdrawn(&mut self, outcome: CallResult<Withdraw>, ctx: &mut Ctx<Self>) -> Effect {
        match outcome {
            CallResult::Reply(Withdrawn::Taken) => self.taken += 1,
            CallResult::Reply(_) => self.declined += 1,
            CallResult::Timeout => self.timed_out += 1,
            CallResult::Refused(_) => self.refused += 1,
        }
        self.later(ctx);
        Effect::Receive
    }
}

impl Teller {
    /// xorshift64: the teller's own choices, part of its state.
    fn draw(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn later(&mut self, ctx: &mut Ctx<Self>) {
        let _ = ctx.after(Duration::from_micros(20), Next);
    }
}

/// The handles a bank's checkers need.
#[derive(Clone, Debug)]
pub struct BankWorld {
    /// Every account, by number.
    pub accounts: Vec<Handle<Account>>,
    /// Every teller.
    pub tellers: Vec<Handle<Teller>>,
    /// What the bank opened with, in all.
    pub opening_total: u64,
}

/// How a bank is laid out.
#[derive(Clone, Copy, Debug)]
pub struct BankPlan {
    /// Shards (accounts are spread over all of them; tellers go on the first two).
    pub shards: usize,
    /// Accounts, at most [`ACCOUNTS_MAX`].
    pub accounts: usize,
    /// Tellers.
    pub tellers: usize,
    /// Transfers each teller asks for.
    pub transfers: u16,
    /// Opening balance of each account.
    pub balance: u64,
    /// Whether accounts recognise resent deposits (false: the bug).
    pub dedup: bool,
}

impl Default for BankPlan {
    fn default() -> Self {
        BankPlan {
            shards: 4,
            accounts: 6,
            tellers: 2,
            transfers: 40,
            balance: 200,
            dedup: true,
        }
    }
}

/// Builds the bank of `plan`; `seed` varies the tellers' choices. Tellers are supervised
/// with a generous restart budget (they are what crash injection aims at), accounts by
/// their shard's root group.
pub fn bank_spec(plan: BankPlan, seed: u64) -> (BootSpec, BankWorld) {
    let mut spec = BootSpec::new(plan.shards);
    spec.isolate::<Account>(plan.accounts.div_ceil(plan.shards).max(1))
        .isolate::<Teller>(plan.tellers.div_ceil(plan.shards.min(2)).max(1))
        .print_crashes(false);
    let accounts: Vec<Handle<Account>> = (0..plan.accounts.min(ACCOUNTS_MAX))
        .map(|id| {
            spec.root::<Account>(
                ShardId((id % plan.shards) as u16),
                AccountArgs {
                    id: id as u8,
                    balance: plan.balance,
                    dedup: plan.dedup,
                },
            )
        })
        .collect();
    let mut handles = [accounts[0]; ACCOUNTS_MAX];
    handles[..accounts.len()].copy_from_slice(&accounts);
    let mut tellers = Vec::new();
    for teller in 0..plan.tellers {
        let shard = ShardId((teller % plan.shards.min(2)) as u16);
        let group = spec.supervisor(shard);
        spec.budget(group, RestartBudget::new(1_000, Duration::from_secs(1)));
        tellers.push(spec.child::<Teller>(
            group,
            Restart::Permanent,
            TellerArgs {
                accounts: handles,
                count: accounts.len() as u8,
                transfers: plan.transfers,
                seed: (seed ^ (seed >> 32) ^ (teller as u64).wrapping_mul(0x9E37_79B9)) as u32,
            },
        ));
    }
    let opening_total = plan.balance * accounts.len() as u64;
    (
        spec,
        BankWorld {
            accounts,
            tellers,
            opening_total,
        },
    )
}

/// All the money in the bank as the simulation stands: every balance, plus every payment
/// in an outbox that its destination has not applied. `Err` when an account is missing
/// (crashed and not restarted: its money cannot be counted).
pub fn money_in_bank(world: &BankWorld, sim: &Simulation) -> Result<u64, String> {
    let mut states = Vec::with_capacity(world.accounts.len());
    for (id, handle) in world.accounts.iter().enumerate() {
        match sim.state(*handle) {
            Some(account) => states.push(account),
            None => return Err(format!("account {id} ({handle:?}) is not live")),
        }
    }
    let mut total = 0;
    for (id, account) in states.iter().enumerate() {
        total += account.balance;
        for pending in &account.outbox {
            let destination = states
                .get(pending.to_id as usize)
                .ok_or_else(|| format!("account {id} pays an unknown account"))?;
            if pending.seq > destination.applied[id] {
                total += pending.amount;
            }
        }
    }
    Ok(total)
}

/// The checker: money is conserved.
pub fn conserved(world: &BankWorld, sim: &Simulation) -> Result<(), String> {
    let total = money_in_bank(world, sim)?;
    if total == world.opening_total {
        Ok(())
    } else {
        Err(format!(
            "the bank opened with {} and now holds {total}",
            world.opening_total
        ))
    }
}

/// The end-of-run checker: every payment taken was delivered (no outbox still holds one).
pub fn settled(world: &BankWorld, sim: &Simulation) -> Result<(), String> {
    for (id, handle) in world.accounts.iter().enumerate() {
        if let Some(account) = sim.state(*handle)
            && !account.outbox.is_empty()
        {
            return Err(format!(
                "account {id} still holds {} undelivered payments",
                account.outbox.len()
            ));
        }
    }
    Ok(())
}
